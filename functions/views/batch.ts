/** What the batch and job routes answer: the core's reads shaped for people and dashboards. */
import { type BatchRecord, type JobRecord, percentDone, runOf, runsOf } from "../core/model.ts";
import type { BatchPage } from "../core/ports.ts";
import type { BatchStatusRead } from "../core/queries.ts";

/** GET /batches/{batchId}: the batch, its progress, what runs now, a page of its jobs, its audit. */
export function batchStatusView(read: BatchStatusRead) {
  const { batch, counts, running, page } = read;
  const {
    totals: _totals,
    cancelSummary: _summary,
    runs: _runs,
    stillStopping: _stillStopping,
    ...shown
  } = batch;
  const total = counts.total;
  return {
    ...shown,
    // Every execution of the batch: its first, and one per resume.
    run: runOf(batch),
    runs: runsOf(batch),
    progress: { ...counts, percent: read.percent },
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
      progress: phaseProgressOf(job),
    })),
    // Large batches are shown a page of jobs at a time: ?jobsOffset=&jobsLimit=.
    jobs: page.jobs.map((job) => ({
      jobId: job.jobId,
      name: job.name,
      status: job.status,
      phase: job.phase ?? null,
      wasInPhase: job.wasInPhase ?? null,
      progress: phaseProgressOf(job),
      startedAt: job.startedAt ?? null,
      endedAt: job.endedAt ?? null,
    })),
    jobsPage: {
      offset: page.offset,
      limit: page.limit,
      total,
      nextOffset: page.offset + page.limit < total ? page.offset + page.limit : null,
    },
    audit: read.audit,
  };
}

/** GET /batches: newest first, with the cursor of the next page. */
export function batchListView(page: BatchPage) {
  return {
    batches: page.batches.map((b: BatchRecord) => ({
      batchId: b.batchId,
      name: b.name,
      status: b.status,
      total: b.total,
      createdAt: b.createdAt,
      endedAt: b.endedAt ?? null,
      source: b.source,
      // From the counts the batch keeps (none on batches submitted before they were kept).
      progress: b.jobCounts ? { ...b.jobCounts, percent: percentDone(b.jobCounts) } : null,
    })),
    nextCursor: page.nextCursor ?? null,
  };
}

/** How far a job is through the phase it is in now (null once it has left the phase it reported on). */
function phaseProgressOf(job: JobRecord) {
  return job.progress && job.progress.phase === job.phase
    ? { done: job.progress.done, total: job.progress.total ?? null, at: job.progress.at }
    : null;
}

/** GET /batches/{batchId}/jobs/{jobId}: one job, with its phase timeline. */
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
    numbers: job.numbers ?? {},
    items: job.itemCounts ?? {},
    progress: job.progress ?? null,
    error: job.error ?? null,
    cancel: job.cancel ?? null,
    /** The run of its batch it last ran in: 1, or the resume that ran it again. */
    run: job.run ?? 1,
    createdAt: job.createdAt,
    startedAt: job.startedAt ?? null,
    endedAt: job.endedAt ?? null,
  };
}

/** DELETE /batches/{batchId}/jobs/{jobId}. */
export function deletedJobView(job: JobRecord) {
  return {
    deleted: true,
    batchId: job.batchId,
    jobId: job.jobId,
    name: job.name,
    status: job.status,
  };
}
