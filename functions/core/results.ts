/**
 * A batch's results: what phases produce, how it is summed (pure functions), and the results
 * read and written from the stores (`Results`). Outputs, items and
 * checkpoints live in S3; each job's numbers live on its record and their sums on the batch's, so
 * a batch's results are answered from DynamoDB whatever its size.
 */
import type { JobOutcome, PipelineSummary, SummaryField } from "../../sdk/index.ts";
import { mapLimit } from "./concurrency.ts";
import { BatchNotFoundError, JobNotFoundError } from "./errors.ts";
import { type BatchRecord, isBatchTerminal, type JobRecord } from "./model.ts";
import { outputKeys } from "./output-keys.ts";
import type { BatchStore, OutputStore } from "./ports.ts";

/**
 * `late`: what a phase returned after ignoring a cancel's signal past its grace; kept, shown as
 * such, and never counted in the results.
 */
export type PhaseOutputStatus = "complete" | "partial" | "error" | "late";

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

export interface ConsolidatedLocation {
  readonly bucket: string;
  readonly key: string;
  readonly uri: string;
}

export interface ResultsOptions {
  /** The pipeline's summary fields, computed from each batch's sums. */
  readonly summaryFields?: Readonly<Record<string, SummaryField>>;
  readonly now?: () => Date;
}

/**
 * A batch's results: the summary from its record (sums kept as jobs progress), and its jobs'
 * outputs and items page by page. Nothing here lists S3 or reads every output of a batch, except
 * consolidate and the end of a batch, which write them all down once.
 */
export class Results {
  private readonly now: () => Date;

  constructor(
    private readonly store: BatchStore,
    private readonly outputs: OutputStore,
    private readonly options: ResultsOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** The batch-level summary, from the batch record alone. */
  summaryOf(batch: BatchRecord): ResultsSummary {
    return summarize(batch, this.options.summaryFields, this.now());
  }

  /** GET /batches/{id}/results: the summary, and one page of the jobs that have results. */
  async page(batchId: string, page: { limit?: number; cursor?: string; items?: number } = {}) {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    const { jobs, nextCursor } = await this.store.listJobsPage(batchId, {
      limit: page.limit ?? RESULTS_PAGE.defaultJobs,
      processedOnly: true,
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
    const itemsLimit = page.items ?? RESULTS_PAGE.defaultItems;
    const processedJobs = await mapLimit(jobs, 4, (job) => this.jobResult(job, itemsLimit));
    const summary = this.summaryOf(batch);
    const partialResults: ResultsSummary["partialResults"] & {
      readonly processedJobs: JobResult[];
      readonly errors: ReturnType<typeof errorsOf>;
    } = { ...summary.partialResults, processedJobs, errors: errorsOf(processedJobs) };
    return {
      batchId,
      status: batch.status,
      final: isBatchTerminal(batch.status),
      ...summary,
      partialResults,
      nextCursor: nextCursor ?? null,
    };
  }

  /** GET /batches/{id}/jobs/{jobId}/output: every phase's output, items, status and checkpoint. */
  async jobOutput(
    batchId: string,
    jobId: string,
    options: { phase?: string; itemsOffset?: number; items?: number } = {},
  ) {
    const job = await this.store.getJob(batchId, jobId);
    if (!job) {
      if (!(await this.store.getBatch(batchId))) throw new BatchNotFoundError(batchId);
      throw new JobNotFoundError(batchId, jobId);
    }
    const result = await this.jobResult(job, options.items ?? RESULTS_PAGE.defaultItems, {
      checkpoints: true,
      itemsOffset: options.itemsOffset ?? 0,
      ...(options.phase ? { phase: options.phase } : {}),
    });
    return { batchId, ...result };
  }

  /** Writes a manifest of every object the batch's jobs saved, from their records (no listing). */
  async writeManifest(batch: BatchRecord, jobs: readonly JobRecord[]): Promise<string> {
    const objects = jobs.flatMap((job) =>
      Object.keys(job.phases).flatMap((phase) => [
        outputKeys.output(batch.batchId, job.jobId, phase),
        ...Array.from({ length: job.itemChunks?.[phase] ?? 0 }, (_, i) =>
          outputKeys.items(batch.batchId, job.jobId, phase, i + 1),
        ),
      ]),
    );
    await this.outputs.putJson(outputKeys.manifest(batch.batchId), {
      batchId: batch.batchId,
      status: batch.status,
      writtenAt: this.now().toISOString(),
      ...this.summaryOf(batch),
      objects,
    });
    return this.manifestUri(batch.batchId);
  }

  manifestUri(batchId: string): string {
    return this.outputs.uri(outputKeys.manifest(batchId));
  }

  /** Recomputes a batch's sums from every job's numbers (exact, whatever crashed meanwhile). */
  async recomputeTotals(batchId: string, jobs: readonly JobRecord[]): Promise<void> {
    await this.store.setTotals(batchId, sumNumbers(jobs));
  }

  /**
   * POST /batches/{id}/consolidate: writes every job's outputs and items to permanent storage, and
   * answers where, with a download link valid for 15 minutes (locally there is no S3 console).
   */
  async consolidate(batchId: string) {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    const written = await this.writeConsolidated(batch);
    return {
      ...written,
      downloadUrl: await this.outputs.downloadUrl(written.key, 900),
      downloadExpiresInSeconds: 900,
    };
  }

  /** Writes `consolidated/<batchId>/results.json`: the summary and every job with all its items. */
  async writeConsolidated(batch: BatchRecord) {
    const { batchId } = batch;
    const jobs: JobResult[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.listJobsPage(batchId, {
        limit: 100,
        processedOnly: true,
        ...(cursor ? { cursor } : {}),
      });
      jobs.push(
        ...(await mapLimit(page.jobs, 8, (job) => this.jobResult(job, Number.POSITIVE_INFINITY))),
      );
      cursor = page.nextCursor;
    } while (cursor);
    const key = outputKeys.consolidated(batchId);
    const summary = this.summaryOf(batch);
    await this.outputs.putJson(key, {
      batch,
      consolidatedAt: this.now().toISOString(),
      ...summary,
      partialResults: { ...summary.partialResults, errors: errorsOf(jobs) },
      jobs,
    });
    return {
      batchId,
      status: batch.status,
      bucket: this.outputs.bucket,
      key,
      uri: this.outputs.uri(key),
      jobsWritten: jobs.length,
      ...summary,
    };
  }

  /** One job's results: its phases in the order they ran, with outputs and the first items. */
  private async jobResult(
    job: JobRecord,
    itemsLimit: number,
    options: { checkpoints?: boolean; itemsOffset?: number; phase?: string } = {},
  ): Promise<JobResult> {
    const names = Object.entries(job.phases)
      .sort(([, a], [, b]) => a.startedAt.localeCompare(b.startedAt))
      .map(([name]) => name)
      .filter((name) => !options.phase || name === options.phase);
    const phases = await mapLimit(names, 4, async (phase): Promise<PhaseResult> => {
      const record = job.phases[phase];
      const [output, items, checkpoint] = await Promise.all([
        this.outputs.readOutput(job.batchId, job.jobId, phase),
        this.outputs.readItems(job.batchId, job.jobId, phase, job.itemChunks?.[phase] ?? 0, {
          offset: options.itemsOffset ?? 0,
          limit: itemsLimit,
        }),
        options.checkpoints
          ? this.outputs.getCheckpoint(job.batchId, job.jobId, phase)
          : Promise.resolve(undefined),
      ]);
      return {
        phase,
        status: output?.status ?? (record?.status === "running" ? "running" : "not_saved"),
        attempt: output?.attempt ?? record?.attempt ?? 0,
        startedAt: record?.startedAt ?? null,
        endedAt: record?.endedAt ?? null,
        output: output?.output ?? null,
        itemCount: job.itemCounts?.[phase] ?? 0,
        items: items.items,
        ...(items.next !== undefined ? { itemsNext: items.next } : {}),
        ...(output?.error ? { error: output.error } : {}),
        ...(options.checkpoints ? { checkpoint: checkpoint ?? null } : {}),
      };
    });
    return {
      jobId: job.jobId,
      name: job.name,
      status: job.status,
      wasInPhase: job.wasInPhase ?? null,
      numbers: job.numbers ?? {},
      phases,
      error: job.error ?? null,
    };
  }
}

function errorsOf(jobs: readonly JobResult[]) {
  return jobs.flatMap((job) =>
    job.phases
      .filter((phase) => phase.status === "error" && phase.error)
      .map((phase) => ({
        jobId: job.jobId,
        name: job.name,
        phase: phase.phase,
        message: phase.error?.message ?? "",
      })),
  );
}
