import { BatchNotFoundError, JobActiveError, JobNotFoundError } from "./errors.ts";
import { type BatchStatus, countJobs, type JobRecord, percentDone } from "./model.ts";
import type { BatchStore } from "./ports.ts";

/** Jobs listed per page in a batch's status. */
const JOBS_PAGE = 100;

/** Read models for the API: batch status with progress, one job, the batch list; and job deletion. */
export class BatchQueries {
  constructor(private readonly store: BatchStore) {}

  async status(batchId: string, page: { jobsLimit?: number; jobsOffset?: number } = {}) {
    const loaded = await this.store.loadBatch(batchId);
    if (!loaded) throw new BatchNotFoundError(batchId);
    const { batch, audit } = loaded;
    const jobs = loaded.jobs;
    const counts = countJobs(jobs);
    const running = jobs.filter((job) => job.status === "running");
    const runningFraction = running.reduce(
      // A fraction from an earlier phase still counts: it only grows as the job goes on.
      (total, job) => total + (job.progress?.jobFraction ?? 0),
      0,
    );
    const offset = page.jobsOffset ?? 0;
    const limit = page.jobsLimit ?? JOBS_PAGE;
    const { totals: _totals, cancelSummary: _summary, ...shown } = batch;
    return {
      ...shown,
      progress: { ...counts, percent: percentDone(counts, runningFraction) },
      // For dashboards of older job queues that counted a cancelled job as failed.
      failed_jobs: counts.failed + counts.cancelled,
      failed_jobs_note:
        "failed_jobs = failed + cancelled, as older job queues counted them; progress has each",
      current: running.map((job) => ({
        jobId: job.jobId,
        name: job.name,
        phase: job.phase ?? null,
        since: job.phase ? (job.phases[job.phase]?.startedAt ?? null) : null,
        inCommit: Boolean(job.inCommit),
        progress:
          job.progress && job.progress.phase === job.phase
            ? { done: job.progress.done, total: job.progress.total ?? null, at: job.progress.at }
            : null,
      })),
      // Large batches are shown a page of jobs at a time: ?jobsOffset=&jobsLimit=.
      jobs: jobs.slice(offset, offset + limit).map((job) => ({
        jobId: job.jobId,
        name: job.name,
        status: job.status,
        phase: job.phase ?? null,
        wasInPhase: job.wasInPhase ?? null,
      })),
      jobsPage: {
        offset,
        limit,
        total: jobs.length,
        nextOffset: offset + limit < jobs.length ? offset + limit : null,
      },
      audit,
    };
  }

  async job(batchId: string, jobId: string) {
    const job = await this.store.getJob(batchId, jobId);
    if (!job) throw new JobNotFoundError(batchId, jobId);
    return jobView(job);
  }

  async list(options: { status?: BatchStatus; limit?: number; cursor?: string }) {
    const page = await this.store.listBatches({
      limit: options.limit ?? 20,
      ...(options.status ? { status: options.status } : {}),
      ...(options.cursor ? { cursor: options.cursor } : {}),
    });
    return {
      batches: page.batches.map((b) => ({
        batchId: b.batchId,
        name: b.name,
        status: b.status,
        total: b.total,
        createdAt: b.createdAt,
        endedAt: b.endedAt ?? null,
        source: b.source,
      })),
      nextCursor: page.nextCursor ?? null,
    };
  }

  async deleteJob(batchId: string, jobId: string) {
    const cas = await this.store.deleteFinishedJob(batchId, jobId);
    if (cas.won) {
      // Its results go with it: the batch's sums no longer count them, so totals, results and
      // consolidate agree.
      await this.store.addToTotals(batchId, cas.record.numbers, {});
      return { deleted: true, batchId, jobId, name: cas.record.name, status: cas.record.status };
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

function jobView(job: JobRecord) {
  const phases = Object.entries(job.phases)
    .map(([name, record]) => ({ name, ...record }))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return {
    batchId: job.batchId,
    jobId: job.jobId,
    name: job.name,
    status: job.status,
    phase: job.phase ?? null,
    wasInPhase: job.wasInPhase ?? null,
    inCommit: Boolean(job.inCommit),
    input: job.input,
    phases,
    numbers: job.numbers ?? {},
    items: job.itemCounts ?? {},
    progress: job.progress ?? null,
    error: job.error ?? null,
    cancel: job.cancel ?? null,
    createdAt: job.createdAt,
    startedAt: job.startedAt ?? null,
    endedAt: job.endedAt ?? null,
  };
}
