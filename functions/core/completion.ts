import type { BatchStore } from "../adapters/dynamodb/batch-store.ts";
import { BatchNotFoundError } from "./errors.ts";
import {
  type BatchStatus,
  type CancelIntent,
  countJobs,
  finalBatchStatus,
  isBatchTerminal,
  isJobTerminal,
  type JobCounts,
  type JobRecord,
} from "./model.ts";
import type { ResultsService } from "./results-service.ts";

export interface FinalizeResponse {
  readonly batchId: string;
  readonly status: BatchStatus;
  readonly counts: JobCounts;
  readonly manifest: string;
  /** Who set the final status: this finalize, or a cancel that won the race. */
  readonly decidedBy: "finalize" | "earlier";
}

/** The workflow's own steps besides phases: recording a job's failure and finalizing a batch. */
export class WorkflowService {
  constructor(
    private readonly store: BatchStore,
    private readonly results: ResultsService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Called by the state machine's Catch after a phase's retries ran out. */
  async recordJobFailure(batchId: string, jobId: string, error: string, cause: string) {
    const message = describeCause(cause) ?? error;
    const cas = await this.store.failJob(
      batchId,
      jobId,
      { name: error, message },
      this.now().toISOString(),
    );
    return { jobId, status: cas.won ? "failed" : (cas.current?.status ?? "unknown") };
  }

  /**
   * After the Map: every job has ended. A job still not terminal (a cancel may be marking jobs at
   * this very moment) is ended too: cancelled if the batch has a cancel intent, failed otherwise,
   * so no job stays running. Then the batch gets its final status, decided by compare-and-set: a
   * cancel intent that appears meanwhile wins, and finalize recomputes. Results are consolidated.
   */
  async finalize(batchId: string): Promise<FinalizeResponse> {
    for (let attempt = 0; ; attempt++) {
      const batch = await this.store.getBatch(batchId);
      if (!batch) throw new BatchNotFoundError(batchId);
      const at = this.now().toISOString();
      let jobs = await this.store.listJobs(batchId);
      const unfinished = jobs.filter((job) => !isJobTerminal(job.status));
      for (const job of unfinished) await this.endUnfinishedJob(job, batch.cancel, at);
      if (unfinished.length > 0) jobs = await this.store.listJobs(batchId);
      const counts = countJobs(jobs);
      const status = finalBatchStatus(counts, Boolean(batch.cancel));
      const cas =
        batch.cancel || status === "cancelled"
          ? await this.store.finishBatch(batchId, status, at)
          : await this.store.finishUncancelledBatch(batchId, status, at);
      const current = cas.won ? cas.record : cas.current;
      // Lost to a cancel intent that appeared after the read: decide again with it.
      if (!cas.won && current && !isBatchTerminal(current.status) && attempt < 3) continue;
      // The sums were kept as jobs progressed; recompute them exactly now that every job has ended.
      await this.results.recomputeTotals(batchId, jobs);
      const final = (await this.store.getBatch(batchId)) ?? current ?? batch;
      const manifest = await this.results.writeManifest(final, jobs);
      await this.results.writeConsolidated(final);
      return {
        batchId,
        status: final.status,
        counts,
        manifest,
        decidedBy: cas.won ? "finalize" : "earlier",
      };
    }
  }

  private async endUnfinishedJob(
    job: JobRecord,
    intent: CancelIntent | undefined,
    at: string,
  ): Promise<void> {
    if (intent && job.status === "queued") {
      await this.store.cancelQueuedJob(job.batchId, job.jobId, intent, at);
    } else if (intent && job.status === "running" && !job.inCommit) {
      await this.store.cancelRunningJob(job.batchId, job.jobId, intent, at, job.phase);
    } else {
      await this.store.failJob(
        job.batchId,
        job.jobId,
        { name: "JobNotFinished", message: "the workflow ended before this job finished" },
        at,
      );
    }
  }
}

/** Step Functions passes a Lambda error's Cause as a JSON string with errorMessage. */
function describeCause(cause: string): string | undefined {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    return typeof parsed.errorMessage === "string" ? parsed.errorMessage : cause || undefined;
  } catch {
    return cause || undefined;
  }
}
