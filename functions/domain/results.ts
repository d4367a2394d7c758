/** Phase outputs as saved in S3, and the summary the API returns. Pure functions only. */

export type PhaseOutputStatus = "complete" | "partial" | "error";

export interface PageResult {
  readonly page: number;
  readonly score: number;
}

/** One phase's output for one job, as written to S3 (also when aborted or failed). */
export interface PhaseOutput {
  readonly batchId: string;
  readonly jobId: string;
  readonly jobName: string;
  readonly phase: string;
  readonly status: PhaseOutputStatus;
  readonly attempt: number;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly pages: readonly PageResult[];
  readonly error?: { readonly name: string; readonly message: string };
}

export interface PartialResults {
  readonly processedJobs: number;
  readonly startTime: string | null;
  readonly endTime: string | null;
  /** Milliseconds from the first phase start to the last phase end. */
  readonly totalDuration: number | null;
  /** Pages processed, counted once per phase that processed them. */
  readonly pagesProcessed: number;
  readonly averageScore: number | null;
  readonly errors: readonly { jobId: string; name: string; phase: string; message: string }[];
  readonly jobs: readonly JobResultLine[];
}

export interface JobResultLine {
  readonly jobId: string;
  readonly name: string;
  readonly phases: readonly { phase: string; status: PhaseOutputStatus; pages: number }[];
  readonly pagesProcessed: number;
  readonly averageScore: number | null;
}

export interface ResultsSummary {
  readonly jobsProcessed: number;
  readonly partialResults: PartialResults;
  readonly hasResults: boolean;
}

const round2 = (value: number) => Math.round(value * 100) / 100;

export function averageOf(scores: readonly number[]): number | null {
  if (scores.length === 0) return null;
  return round2(scores.reduce((sum, score) => sum + score, 0) / scores.length);
}

/** Summarises every saved phase output of a batch (complete, partial or failed). */
export function summarizeResults(outputs: readonly PhaseOutput[]): ResultsSummary {
  const byJob = new Map<string, PhaseOutput[]>();
  for (const output of outputs) {
    const list = byJob.get(output.jobId) ?? [];
    list.push(output);
    byJob.set(output.jobId, list);
  }
  const jobs: JobResultLine[] = [...byJob.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([jobId, list]) => {
      const scores = list.flatMap((o) => o.pages.map((p) => p.score));
      return {
        jobId,
        name: list[0]?.jobName ?? jobId,
        phases: list
          .slice()
          .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
          .map((o) => ({ phase: o.phase, status: o.status, pages: o.pages.length })),
        pagesProcessed: scores.length,
        averageScore: averageOf(scores),
      };
    });
  const processed = jobs.filter((job) => job.pagesProcessed > 0);
  const allScores = outputs.flatMap((o) => o.pages.map((p) => p.score));
  // An unreadable output has no times (see ResultStore): it counts as an error, not as a time.
  const starts = outputs
    .map((o) => o.startedAt)
    .filter(Boolean)
    .sort();
  const ends = outputs
    .map((o) => o.endedAt)
    .filter(Boolean)
    .sort();
  const startTime = starts[0] ?? null;
  const endTime = ends[ends.length - 1] ?? null;
  const errors = outputs
    .filter((o) => o.status === "error" && o.error)
    .map((o) => ({
      jobId: o.jobId,
      name: o.jobName,
      phase: o.phase,
      message: o.error?.message ?? "",
    }));
  return {
    jobsProcessed: processed.length,
    hasResults: allScores.length > 0,
    partialResults: {
      processedJobs: processed.length,
      startTime,
      endTime,
      totalDuration: startTime && endTime ? Date.parse(endTime) - Date.parse(startTime) : null,
      pagesProcessed: allScores.length,
      averageScore: averageOf(allScores),
      errors,
      jobs,
    },
  };
}
