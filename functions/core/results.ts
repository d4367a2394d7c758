/**
 * What phases produce and how results are summed: pure functions only. Outputs, items and
 * checkpoints live in S3; each job's numbers live on its record and their sums on the batch's, so
 * a batch's results are answered from DynamoDB whatever its size.
 */
import type { JobOutcome, PipelineSummary, SummaryField } from "../../sdk/index.ts";
import type { BatchRecord, JobRecord } from "./model.ts";

export type PhaseOutputStatus = "complete" | "partial" | "error";

/** Page sizes: jobs per results page, and items per phase shown inline. */
export const RESULTS_PAGE = { defaultJobs: 20, maxJobs: 100, defaultItems: 20, maxItems: 1000 };

/** One phase's output for one job, as written to S3 (also when it stopped early or failed). */
export interface PhaseOutputDocument {
  readonly batchId: string;
  readonly jobId: string;
  readonly jobName: string;
  readonly phase: string;
  readonly status: PhaseOutputStatus;
  readonly attempt: number;
  readonly startedAt: string;
  readonly endedAt: string;
  /** What the phase returned; null when it threw. */
  readonly output: unknown;
  readonly error?: { readonly name: string; readonly message: string };
}

/** A checkpoint as saved in S3. */
export interface SavedCheckpoint {
  readonly savedAt: string;
  readonly attempt: number;
  readonly checkpoint: unknown;
}

/** Numbers every job has, whatever its pipeline: summed into every batch's results. */
export const BUILT_IN_NUMBERS = ["jobsProcessed", "items"] as const;

/**
 * The numbers one job adds to its batch's sums: `jobsProcessed` (1 once a phase returned something or
 * it emitted an item), `items`
 * (all it emitted), and the pipeline's own (`summary.perJob`). A hook that throws or returns
 * something other than finite numbers adds nothing of its own.
 */
export function jobNumbers(
  outcome: JobOutcome,
  summary: PipelineSummary | undefined,
): Record<string, number> {
  const numbers: Record<string, number> = {};
  try {
    for (const [name, value] of Object.entries(summary?.perJob(outcome) ?? {}))
      if (typeof value === "number" && Number.isFinite(value)) numbers[name] = value;
  } catch {
    // The summary is the pipeline's code: its failure must not fail the job.
  }
  numbers.items = Object.values(outcome.items).reduce((total, n) => total + n, 0);
  const produced = Object.values(outcome.outputs).some((output) => output != null);
  numbers.jobsProcessed = produced || numbers.items > 0 ? 1 : 0;
  return numbers;
}

/** What adding `next` in place of `previous` changes in the batch's sums (zeros left out). */
export function numbersDelta(
  previous: Readonly<Record<string, number>> | undefined,
  next: Readonly<Record<string, number>>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const name of new Set([...Object.keys(previous ?? {}), ...Object.keys(next)])) {
    const change = (next[name] ?? 0) - (previous?.[name] ?? 0);
    if (change !== 0) delta[name] = change;
  }
  return delta;
}

/** The sums of every job's numbers. */
export function sumNumbers(jobs: readonly Pick<JobRecord, "numbers">[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const job of jobs)
    for (const [name, value] of Object.entries(job.numbers ?? {}))
      totals[name] = (totals[name] ?? 0) + value;
  return totals;
}

/** The pipeline's summary fields, computed from the batch's sums. */
export function summaryFields(
  totals: Readonly<Record<string, number>>,
  fields: Readonly<Record<string, SummaryField>> | undefined,
): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [name, field] of Object.entries(fields ?? {})) {
    if ("sum" in field) out[name] = totals[field.sum] ?? 0;
    else {
      const [numerator, denominator] = field.ratio;
      const below = totals[denominator] ?? 0;
      const factor = 10 ** (field.digits ?? 2);
      out[name] =
        below === 0 ? null : Math.round(((totals[numerator] ?? 0) / below) * factor) / factor;
    }
  }
  return out;
}

/** `HH:MM:SS` for a duration in milliseconds (hours may exceed 24). */
export function clockDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const hh = Math.floor(seconds / 3600);
  const mm = Math.floor((seconds % 3600) / 60);
  const ss = seconds % 60;
  return [hh, mm, ss].map((n) => String(n).padStart(2, "0")).join(":");
}

/** One phase of one job in the results: its status, output, items and checkpoint. */
export interface PhaseResult {
  readonly phase: string;
  readonly status: PhaseOutputStatus | "running" | "not_saved";
  readonly attempt: number;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly output: unknown;
  readonly itemCount: number;
  readonly items: readonly unknown[];
  /** Where the next items are, when there are more than were returned. */
  readonly itemsNext?: number;
  readonly error?: { readonly name: string; readonly message: string };
  readonly checkpoint?: SavedCheckpoint | null;
}

/** One job in the results. */
export interface JobResult {
  readonly jobId: string;
  readonly name: string;
  readonly status: JobRecord["status"];
  readonly wasInPhase: string | null;
  readonly numbers: Readonly<Record<string, number>>;
  readonly phases: readonly PhaseResult[];
  readonly error: JobRecord["error"] | null;
}

/** The batch-level part of results: times, sums and the pipeline's fields. */
export interface ResultsSummary {
  readonly jobsProcessed: number;
  readonly hasResults: boolean;
  readonly partialResults: {
    readonly startTime: string | null;
    readonly endTime: string | null;
    /** Milliseconds from the batch's start to its end (or to now while it runs). */
    readonly totalDuration: number | null;
    /** The same, as HH:MM:SS. */
    readonly totalDurationText: string | null;
    /** Items emitted by every job. */
    readonly items: number;
    readonly [field: string]: unknown;
  };
}

/** The summary of a batch, from its record alone. */
export function summarize(
  batch: Pick<BatchRecord, "createdAt" | "startedAt" | "endedAt" | "totals">,
  fields: Readonly<Record<string, SummaryField>> | undefined,
  now: Date,
): ResultsSummary {
  const totals = batch.totals ?? {};
  const startTime = batch.startedAt ?? null;
  const endTime = batch.endedAt ?? null;
  const totalDuration = startTime
    ? (endTime ? Date.parse(endTime) : now.getTime()) - Date.parse(startTime)
    : null;
  const jobsProcessed = totals.jobsProcessed ?? 0;
  return {
    jobsProcessed,
    hasResults: jobsProcessed > 0,
    partialResults: {
      ...summaryFields(totals, fields),
      startTime,
      endTime,
      totalDuration,
      totalDurationText: totalDuration === null ? null : clockDuration(totalDuration),
      items: totals.items ?? 0,
    },
  };
}
