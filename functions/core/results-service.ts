import type { SummaryField } from "../../sdk/index.ts";
import type { BatchStore } from "../adapters/dynamodb/batch-store.ts";
import { mapLimit } from "./concurrency.ts";
import { BatchNotFoundError, JobNotFoundError } from "./errors.ts";
import { type BatchRecord, isBatchTerminal, type JobRecord } from "./model.ts";
import { ResultStore } from "../adapters/s3/output-store.ts";
import {
  type JobResult,
  type PhaseResult,
  RESULTS_PAGE,
  type ResultsSummary,
  summarize,
  sumNumbers,
} from "./results.ts";

export interface ConsolidatedLocation {
  readonly bucket: string;
  readonly key: string;
  readonly uri: string;
}

export interface ResultsServiceOptions {
  /** The pipeline's summary fields, computed from each batch's sums. */
  readonly summaryFields?: Readonly<Record<string, SummaryField>>;
  readonly now?: () => Date;
}

/**
 * A batch's results: the summary from its record (sums kept as jobs progress), and its jobs'
 * outputs and items page by page. Nothing here lists S3 or reads every output of a batch, except
 * consolidate and the end of a batch, which write them all down once.
 */
export class ResultsService {
  private readonly now: () => Date;

  constructor(
    private readonly store: BatchStore,
    private readonly results: ResultStore,
    private readonly options: ResultsServiceOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** The batch-level summary, from the batch record alone. */
  summaryOf(batch: BatchRecord): ResultsSummary {
    return summarize(batch, this.options.summaryFields, this.now());
  }

  /** GET /batches/{id}/results: the summary, and one page of the jobs that have results. */
  async resultsOf(batchId: string, page: { limit?: number; cursor?: string; items?: number } = {}) {
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
        ResultStore.outputKey(batch.batchId, job.jobId, phase),
        ...Array.from({ length: job.itemChunks?.[phase] ?? 0 }, (_, i) =>
          ResultStore.itemsKey(batch.batchId, job.jobId, phase, i + 1),
        ),
      ]),
    );
    await this.results.putJson(manifestKey(batch.batchId), {
      batchId: batch.batchId,
      status: batch.status,
      writtenAt: this.now().toISOString(),
      ...this.summaryOf(batch),
      objects,
    });
    return this.manifestUri(batch.batchId);
  }

  manifestUri(batchId: string): string {
    return this.results.uri(manifestKey(batchId));
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
      downloadUrl: await this.results.downloadUrl(written.key, 900),
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
    const key = consolidatedKey(batchId);
    const summary = this.summaryOf(batch);
    await this.results.putJson(key, {
      batch,
      consolidatedAt: this.now().toISOString(),
      ...summary,
      partialResults: { ...summary.partialResults, errors: errorsOf(jobs) },
      jobs,
    });
    return {
      batchId,
      status: batch.status,
      bucket: this.results.bucket,
      key,
      uri: this.results.uri(key),
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
        this.results.readOutput(job.batchId, job.jobId, phase),
        this.results.readItems(job.batchId, job.jobId, phase, job.itemChunks?.[phase] ?? 0, {
          offset: options.itemsOffset ?? 0,
          limit: itemsLimit,
        }),
        options.checkpoints
          ? this.results.getCheckpoint(job.batchId, job.jobId, phase)
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

const manifestKey = (batchId: string) => `manifests/${batchId}.json`;
export const consolidatedKey = (batchId: string) => `consolidated/${batchId}/results.json`;
