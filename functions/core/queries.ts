import { BatchNotFoundError, JobActiveError, JobNotFoundError } from "./errors.ts";
import {
  type AuditEntry,
  type BatchRecord,
  type BatchStatus,
  countJobs,
  type JobCounts,
  type JobRecord,
  percentDone,
} from "./model.ts";
import type { BatchPage, BatchStore } from "./ports.ts";
import { jobIdFor } from "./submit.ts";

/** Jobs listed per page in a batch's status. */
const JOBS_PAGE = 100;
/** Rereads of a batch whose counts and running jobs disagree (a job ended between the reads). */
const STATUS_REREADS = 2;

/** What a batch's status is made of; the API's view (views/batch.ts) shapes it. */
export interface BatchStatusRead {
  readonly batch: BatchRecord;
  readonly counts: JobCounts;
  readonly percent: number;
  readonly running: readonly JobRecord[];
  readonly page: {
    readonly jobs: readonly JobRecord[];
    readonly offset: number;
    readonly limit: number;
  };
  readonly audit: readonly AuditEntry[];
}

/** A fraction from an earlier phase still counts: it only grows as the job goes on. */
const runningFraction = (running: readonly JobRecord[]) =>
  running.reduce((total, job) => total + (job.progress?.jobFraction ?? 0), 0);

/** Reads for the API: a batch's status with its progress, one job, the batch list; and job deletion. */
export class BatchQueries {
  constructor(private readonly store: BatchStore) {}

  async status(
    batchId: string,
    page: { jobsLimit?: number; jobsOffset?: number } = {},
  ): Promise<BatchStatusRead> {
    const offset = page.jobsOffset ?? 0;
    const limit = page.jobsLimit ?? JOBS_PAGE;
    let batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    // A batch that keeps its job counts is read without reading every job: its counts, its running
    // jobs (at most its concurrency), one page of jobs and its audit trail.
    let counts = batch.jobCounts;
    if (!counts) return this.statusFromEveryJob(batchId, offset, limit);
    const runningOf = (read: BatchRecord, { running }: JobCounts) =>
      running > 0
        ? this.store.listActiveJobs(batchId, "running", Math.max(read.concurrency, running))
        : Promise.resolve([]);
    let [running, jobs, audit] = await Promise.all([
      runningOf(batch, counts),
      this.store.listJobsAfter(batchId, offset > 0 ? jobIdFor(offset - 1) : undefined, limit),
      this.store.listAudit(batchId),
    ]);
    // A job that ends between the two reads is counted running but listed nowhere: its share would
    // drop out and the progress go back. The batch is read again (twice at most) until they agree.
    for (let again = 0; again < STATUS_REREADS && running.length !== counts.running; again++) {
      const reread = await this.store.getBatch(batchId);
      if (!reread?.jobCounts) break;
      batch = reread;
      counts = reread.jobCounts;
      running = await runningOf(batch, counts);
    }
    return {
      batch,
      counts,
      percent: percentDone(counts, runningFraction(running)),
      running,
      page: { jobs, offset, limit },
      audit,
    };
  }

  /** A batch submitted before job counts were kept: every job is read. */
  private async statusFromEveryJob(
    batchId: string,
    offset: number,
    limit: number,
  ): Promise<BatchStatusRead> {
    const loaded = await this.store.loadBatch(batchId);
    if (!loaded) throw new BatchNotFoundError(batchId);
    const { batch, jobs, audit } = loaded;
    const counts = countJobs(jobs);
    const running = jobs.filter((job) => job.status === "running");
    return {
      batch,
      counts,
      percent: percentDone(counts, runningFraction(running)),
      running,
      page: { jobs: jobs.slice(offset, offset + limit), offset, limit },
      audit,
    };
  }

  async job(batchId: string, jobId: string): Promise<JobRecord> {
    const job = await this.store.getJob(batchId, jobId);
    if (!job) throw new JobNotFoundError(batchId, jobId);
    return job;
  }

  list(options: { status?: BatchStatus; limit?: number; cursor?: string }): Promise<BatchPage> {
    return this.store.listBatches({
      limit: options.limit ?? 20,
      ...(options.status ? { status: options.status } : {}),
      ...(options.cursor ? { cursor: options.cursor } : {}),
    });
  }

  /** Deletes a job that has ended; its numbers leave the batch's sums with it. */
  async deleteJob(batchId: string, jobId: string): Promise<JobRecord> {
    const cas = await this.store.deleteFinishedJob(batchId, jobId);
    if (cas.won) {
      // Its results go with it: the batch's sums no longer count them, so totals, results and
      // consolidate agree.
      await this.store.addToTotals(batchId, cas.record.numbers, {});
      return cas.record;
    }
    if (!cas.current) {
      if (!(await this.store.getBatch(batchId))) throw new BatchNotFoundError(batchId);
      throw new JobNotFoundError(batchId, jobId);
    }
    throw new JobActiveError(
      `Job ${jobId} (${cas.current.name}) is still ${cas.current.status}; cancel it or let it finish before deleting it`,
      { jobId, status: cas.current.status },
    );
  }
}
