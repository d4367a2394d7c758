/**
 * The records stepbatch keeps, and the pure rules over them: which states are terminal, how far a
 * batch is, and what a finished batch's status is. No I/O and no Lambda types here. (What a
 * cancel may do to a job is in job-cancel.ts; how a record may change, in transitions.ts.)
 */

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** Every batch status, in lifecycle order. */
export const BATCH_STATUSES = [
  "queued",
  "running",
  "cancelling",
  "succeeded",
  "completed_with_errors",
  "failed",
  "cancelled",
] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

export const JOB_TERMINAL: readonly JobStatus[] = ["succeeded", "failed", "cancelled"];
const BATCH_TERMINAL: readonly BatchStatus[] = [
  "succeeded",
  "completed_with_errors",
  "failed",
  "cancelled",
];

export const isJobTerminal = (status: JobStatus): boolean => JOB_TERMINAL.includes(status);
export const isBatchTerminal = (status: BatchStatus): boolean => BATCH_TERMINAL.includes(status);

export type CancelScope = "batch" | "job" | "subset";

/** The durable cancel intent: written first, read by every phase before and while it runs. */
/**
 * How a cancel stops what is running:
 * - `now`: running phases stop at their next safe point (their AbortSignal fires);
 * - `drain`: running jobs finish all their phases; queued jobs never start;
 * - `after-phase`: running jobs finish the phase they are in, then stop; later phases never start.
 * In every mode queued jobs never start, and a job in its final phase finishes it.
 */
export const STOP_MODES = ["now", "drain", "after-phase"] as const;
export type StopMode = (typeof STOP_MODES)[number];

/** The mode of an intent; intents written before modes existed stop now. */
export const stopModeOf = (intent: Pick<CancelIntent, "mode"> | undefined): StopMode =>
  intent?.mode ?? "now";

export interface CancelIntent {
  /** The cancel this intent belongs to: its receipt is GET /batches/{id}/cancellations/{this}. */
  readonly cancellationId?: string;
  readonly mode?: StopMode;
  /**
   * How long a running phase has to stop after a `now` cancel; one still running then has
   * ignored its signal, and what it returns later is kept apart and never counted.
   */
  readonly graceSeconds?: number;
  readonly requestedAt: string;
  /** Who cancelled, as authenticated (the API's principal) or as stepbatch itself (system, console). */
  readonly by: string;
  /** Who the caller said it was (the CLI sends user@host): recorded as a claim, never as `by`. */
  readonly claimedBy?: string;
  readonly reason: string;
  readonly scope: CancelScope;
}

/** What the first cancel of a batch applied, kept on the batch so every later cancel reports the same. */
export interface CancelSummary {
  readonly jobsCancelled: number;
  readonly inCommit: number;
  readonly total: number;
  readonly recordedAt: string;
}

/** A job's input: any JSON object; the pipeline's and phases' schemas say what it holds. */
export type JobInput = Readonly<Record<string, unknown>>;

export type PhaseStatus = "running" | "succeeded" | "failed" | "aborted";

export interface PhaseRecord {
  readonly status: PhaseStatus;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly attempt: number;
  /** Items the phase has emitted, over all its attempts. */
  readonly items?: number;
  readonly error?: string;
}

/** What a running phase last reported with `progress(done, total)`. */
export interface PhaseProgress {
  readonly phase: string;
  readonly done: number;
  readonly total?: number;
  /** How far the whole job is, 0 to 1: its phases so far plus this one's done/total. */
  readonly jobFraction?: number;
  readonly at: string;
}

export interface JobRecord {
  readonly batchId: string;
  readonly jobId: string;
  readonly name: string;
  readonly input: JobInput;
  readonly status: JobStatus;
  /** The phase running now, or the last one that ran. */
  readonly phase?: string;
  /** Set when a cancel stopped the job while a phase ran. */
  readonly wasInPhase?: string;
  /** True while the final phase runs: a cancel cannot cut it in half. */
  readonly inCommit?: boolean;
  readonly phases: Readonly<Record<string, PhaseRecord>>;
  readonly cancel?: CancelIntent;
  /** The numbers this job adds to its batch's sums (see results.ts). */
  readonly numbers?: Readonly<Record<string, number>>;
  /** Items emitted so far, and item chunks written so far, by phase. */
  readonly itemCounts?: Readonly<Record<string, number>>;
  readonly itemChunks?: Readonly<Record<string, number>>;
  readonly progress?: PhaseProgress;
  readonly error?: { readonly name: string; readonly message: string };
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  /** The run of its batch the job last ran in (1, or the resume that ran it again). @default 1 */
  readonly run?: number;
  /** How the job ended in the run before its resume: a receipt of that run's cancel reads it. */
  readonly resumedFrom?: ResumedJob;
}

/** What a job was when a resume queued it again. */
export interface ResumedJob {
  readonly run: number;
  readonly status: JobStatus;
  readonly cancel?: CancelIntent;
  readonly wasInPhase?: string;
  readonly endedAt?: string;
  readonly phases: Readonly<Record<string, PhaseRecord>>;
}

/**
 * One execution of a batch: the first, started by its submit, and one per resume, each linked to
 * the batch and named after it (`<batchId>`, `<batchId>-run-2`, ...).
 */
export interface BatchRun {
  readonly run: number;
  readonly executionArn: string;
  readonly startedAt: string;
  /** Jobs this run was given. */
  readonly jobs: number;
  /** Who started it (a resume's principal; the submitter is not recorded for run 1). */
  readonly by?: string;
  readonly claimedBy?: string;
  readonly reason?: string;
  /** How the run ended, once it has (the current run's is the batch's, see runsOf). */
  readonly status?: BatchStatus;
  readonly endedAt?: string;
}

export interface BatchSource {
  readonly kind: "api" | "schedule";
  readonly scheduleName?: string;
  /** For scheduled batches: the occurrence that started it. */
  readonly scheduledTime?: string;
}

export interface BatchRecord {
  readonly batchId: string;
  readonly name: string;
  readonly status: BatchStatus;
  readonly executionArn: string;
  readonly total: number;
  readonly concurrency: number;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly cancel?: CancelIntent;
  readonly cancelSummary?: CancelSummary;
  /** The sums of every job's numbers, kept as jobs progress. */
  readonly totals?: Readonly<Record<string, number>>;
  /**
   * How many of its jobs are in each status, kept as jobs change status (by the store, after each
   * job's write; recounted from every job when the batch ends). What a status read shows without
   * reading every job. Absent on batches submitted before it was kept.
   */
  readonly jobCounts?: JobCounts;
  readonly source: BatchSource;
  readonly error?: { readonly name: string; readonly message: string };
  /** The runs before the current one, and the current one, once the batch has been resumed. */
  readonly runs?: readonly BatchRun[];
  /** When the last phase of a cancelled batch stopped: nothing of it runs any more. */
  readonly quiescedAt?: string;
  /** Jobs whose phase was still running when the cancelled batch ended. */
  readonly stragglers?: readonly string[];
  /** Those of the stragglers still stopping: the batch quiesces when the last one has. */
  readonly stillStopping?: readonly string[];
  /** What the cancel saved: the phase runs its cancelled jobs did not make (see quiesce.ts). */
  readonly cancelSaved?: CancelSavings;
  /** Where the "Batch Quiesced" notice is posted (its signing secret is kept apart). */
  readonly webhookUrl?: string;
}

/** The phase runs a cancel kept from running, and what they would have cost. */
export interface CancelSavings {
  readonly phaseRunsNotRun: number;
  /** Estimated from this batch's own phase lengths; null where no phase had finished to go by. */
  readonly phaseSecondsNotRun: number | null;
  readonly dollars: number | null;
  /** The dated price table used (the bench's). */
  readonly pricedWith: { readonly date: string; readonly region: string };
}

/** The current run's number. */
export const runOf = (batch: Pick<BatchRecord, "runs">): number => batch.runs?.at(-1)?.run ?? 1;

/** Every run of a batch, the first included, newest last; the current one ended as the batch did. */
export function runsOf(
  batch: Pick<
    BatchRecord,
    "runs" | "executionArn" | "createdAt" | "startedAt" | "total" | "status" | "endedAt"
  >,
): readonly BatchRun[] {
  const runs = batch.runs ?? [
    {
      run: 1,
      executionArn: batch.executionArn,
      startedAt: batch.startedAt ?? batch.createdAt,
      jobs: batch.total,
    },
  ];
  const current = runs.at(-1);
  if (!current || current.status || !isBatchTerminal(batch.status)) return runs;
  return [
    ...runs.slice(0, -1),
    { ...current, status: batch.status, ...(batch.endedAt ? { endedAt: batch.endedAt } : {}) },
  ];
}

export interface AuditEntry {
  readonly at: string;
  readonly action: string;
  readonly by: string;
  readonly claimedBy?: string;
  readonly reason?: string;
  readonly detail?: Record<string, unknown>;
}

/** The form two job names are compared in: names equal in it are the same name to a person. */
export const nameKey = (name: string): string => name.normalize("NFKC");

/** Whether one of a job's phases still runs (its record says so: it has not ended yet). */
export const hasRunningPhase = (job: Pick<JobRecord, "phases">): boolean =>
  Object.values(job.phases).some((phase) => phase.status === "running");

/**
 * Finds a job among `jobs` by its id or its name (names compared as nameKey does; a name is never
 * shaped like an id, so the two never clash).
 */
export function jobFinder(jobs: readonly JobRecord[]): (item: string) => JobRecord | undefined {
  const byId = new Map(jobs.map((job) => [job.jobId, job]));
  const byName = new Map(jobs.map((job) => [nameKey(job.name), job]));
  return (item) => byId.get(item) ?? byName.get(nameKey(item));
}

export interface JobCounts {
  readonly total: number;
  readonly queued: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly cancelled: number;
}

/** The counts of a batch with no jobs. */
export const NO_JOBS: JobCounts = {
  total: 0,
  queued: 0,
  running: 0,
  succeeded: 0,
  failed: 0,
  cancelled: 0,
};

export function countJobs(jobs: readonly Pick<JobRecord, "status">[]): JobCounts {
  const counts = { ...NO_JOBS, total: jobs.length };
  for (const job of jobs) counts[job.status] += 1;
  return counts;
}

/**
 * How far a batch is, 0 to 100: ended jobs count whole, running jobs by the progress their phases
 * report (`runningFraction` is the sum of their fractions).
 */
export function percentDone(counts: JobCounts, runningFraction = 0): number {
  if (counts.total === 0) return 100;
  const done = counts.succeeded + counts.failed + counts.cancelled;
  return Math.floor(((done + runningFraction) / counts.total) * 1000) / 10;
}

/** The status a batch ends with once its workflow has run every job. */
export function finalBatchStatus(counts: JobCounts, cancelRequested: boolean): BatchStatus {
  if (cancelRequested) return "cancelled";
  if (counts.total > 0 && counts.cancelled === counts.total) return "cancelled";
  if (counts.succeeded === counts.total) return "succeeded";
  if (counts.succeeded === 0 && counts.failed > 0 && counts.cancelled === 0) return "failed";
  return "completed_with_errors";
}
