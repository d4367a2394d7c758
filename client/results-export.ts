import type { ResultsView, StepbatchClient } from "./stepbatch-client.ts";

export type JobResult = ResultsView["partialResults"]["processedJobs"][number];
export type PhaseError = ResultsView["partialResults"]["errors"][number];

/** What the batch's first results page says of it: everything but its jobs and their errors. */
export type ResultsHead = Omit<ResultsView, "nextCursor" | "partialResults"> & {
  readonly partialResults: Omit<ResultsView["partialResults"], "processedJobs" | "errors">;
};

/** Where an export's parts go, in order: the head once, then each job. */
export interface ResultsSink {
  head(head: ResultsHead): void | Promise<void>;
  job(job: JobResult): void | Promise<void>;
}

/** Pages of jobs and of items: large enough to be few requests, small enough to stream. */
const EXPORT_PAGE = { jobs: 100, items: 1000 } as const;

/**
 * Every job with results, each with every item of every phase, read a page at a time and handed
 * on as it is read (never the whole batch in memory): what `stepbatch results --output` writes and
 * the console downloads. A page's summary lists the errors of that page's jobs only, so the errors
 * of all of them are returned at the end. A failed read throws: the export is then incomplete.
 */
export async function exportResults(
  api: StepbatchClient,
  batchId: string,
  sink: ResultsSink,
): Promise<{ readonly jobs: number; readonly errors: readonly PhaseError[] }> {
  const errors: PhaseError[] = [];
  let jobs = 0;
  let cursor: string | undefined;
  do {
    const page = await api.getResults(batchId, {
      limit: EXPORT_PAGE.jobs,
      items: EXPORT_PAGE.items,
      ...(cursor ? { cursor } : {}),
    });
    const { processedJobs, errors: pageErrors, ...summary } = page.partialResults;
    if (cursor === undefined) {
      const { nextCursor: _next, partialResults: _jobs, ...batch } = page;
      await sink.head({ ...batch, partialResults: summary });
    }
    for (const job of processedJobs) {
      await sink.job(await withEveryItem(api, batchId, job));
      jobs++;
    }
    errors.push(...pageErrors);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return { jobs, errors };
}

/** A job's results with every item of every phase, fetching what did not fit in the page. */
async function withEveryItem(
  api: StepbatchClient,
  batchId: string,
  job: JobResult,
): Promise<JobResult> {
  const phases = [];
  for (const phase of job.phases) {
    const items = [...phase.items];
    let next = phase.itemsNext;
    while (next !== undefined) {
      const more = await api.getJobOutput(batchId, job.jobId, {
        phase: phase.phase,
        itemsOffset: next,
        items: EXPORT_PAGE.items,
      });
      const found = more.phases[0];
      items.push(...(found?.items ?? []));
      next = found?.itemsNext;
    }
    const { itemsNext: _next, ...rest } = phase;
    phases.push({ ...rest, items });
  }
  return { ...job, phases };
}
