import type { BatchStore } from "./batch-store";
import { BatchNotFoundError, JobActiveError, JobNotFoundError } from "./errors";
import { type BatchStatus, countJobs, type JobRecord, percentDone } from "./model";

/** Read models for the API: batch status with progress, one job, the batch list; and job deletion. */
export class BatchQueries {
  constructor(private readonly store: BatchStore) {}

  async status(batchId: string) {
    const loaded = await this.store.loadBatch(batchId);
    if (!loaded) throw new BatchNotFoundError(batchId);
    const { batch, jobs, audit } = loaded;
    const counts = countJobs(jobs);
    return {
      ...batch,
      progress: { ...counts, percent: percentDone(counts) },
      // For dashboards of older job queues that counted a cancelled job as failed.
      failed_jobs: counts.failed + counts.cancelled,
      failed_jobs_note:
        "failed_jobs = failed + cancelled, as older job queues counted them; progress has each",
      current: jobs
        .filter((job) => job.status === "running")
        .map((job) => ({
          jobId: job.jobId,
          name: job.name,
          phase: job.phase ?? null,
          since: job.phase ? (job.phases[job.phase]?.startedAt ?? null) : null,
          inCommit: Boolean(job.inCommit),
        })),
      jobs: jobs.map((job) => ({
        jobId: job.jobId,
        name: job.name,
        status: job.status,
        phase: job.phase ?? null,
        wasInPhase: job.wasInPhase ?? null,
      })),
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
    if (cas.won)
      return { deleted: true, batchId, jobId, name: cas.record.name, status: cas.record.status };
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

export function jobView(job: JobRecord) {
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
    result: job.result ?? null,
    error: job.error ?? null,
    cancel: job.cancel ?? null,
    createdAt: job.createdAt,
    startedAt: job.startedAt ?? null,
    endedAt: job.endedAt ?? null,
  };
}
