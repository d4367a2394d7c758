import { BatchNotFoundError, ERROR_NAMES } from "./errors.ts";
import { applyJobCancel } from "./job-cancel.ts";
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
import type { BatchStore } from "./ports.ts";
import type { Quiescence } from "./quiesce.ts";
import type { Results } from "./results.ts";
import { batchTransitions, jobTransitions } from "./transitions.ts";

export interface FinalizeResponse {
  readonly batchId: string;
  readonly status: BatchStatus;
  readonly counts: JobCounts;
  readonly manifest: string;
  /** Who set the final status: this finalize, or a cancel that won the race. */
  readonly decidedBy: "finalize" | "earlier";
}

/**
 * How a batch's execution ends its jobs and itself, besides its phases: "Record job failure" after
 * a phase's retries ran out, and "Finalize batch" once every job has ended.
 */
export class BatchCompletion {
  constructor(
    private readonly store: BatchStore,
    private readonly results: Results,
    private readonly now: () => Date = () => new Date(),
    private readonly quiescence?: Pick<Quiescence, "batchEnded">,
  ) {}

  /** Called by the state machine's Catch after a phase's retries ran out. */
  async recordJobFailure(batchId: string, jobId: string, error: string, cause: string) {
    const message = describeCause(cause) ?? error;
    // A phase whose handler died (a timeout, an AWS call refused) never recorded how it ended.
    const job = await this.store.getJob(batchId, jobId);
    const current = job?.phase ? job.phases[job.phase] : undefined;
    const stillRunning =
      job?.phase && current?.status === "running"
        ? { name: job.phase, record: current }
        : undefined;
    const at = this.now().toISOString();
    let cas = await this.store.transitionJob(
      batchId,
      jobId,
      jobTransitions.fail({ name: error, message }, at, stillRunning),
    );
    // The phase's record changed since it was read (its handler, still alive, recorded its end).
    if (
      !cas.won &&
      stillRunning &&
      (cas.current?.status === "running" || cas.current?.status === "queued")
    )
      cas = await this.store.transitionJob(
        batchId,
        jobId,
        jobTransitions.fail({ name: error, message }, at),
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
      // A phase of a job ended here may still run: it stops on the signal.
      if (unfinished.some((job) => job.status === "running"))
        await this.store.raiseCancelSignal(batchId);
      if (unfinished.length > 0) jobs = await this.store.listJobs(batchId);
      const counts = countJobs(jobs);
      const status = finalBatchStatus(counts, Boolean(batch.cancel));
      const cas = await this.store.transitionBatch(
        batchId,
        batch.cancel || status === "cancelled"
          ? batchTransitions.finish(status, at)
          : batchTransitions.finishUncancelled(status, at),
      );
      const current = cas.won ? cas.record : cas.current;
      // Lost to a cancel intent that appeared after the read: decide again with it.
      if (!cas.won && current && !isBatchTerminal(current.status) && attempt < 3) continue;
      // The sums and counts were kept as jobs progressed; recompute them exactly now that every
      // job has ended.
      await this.results.recomputeTotals(batchId, jobs);
      await this.store.setJobCounts(batchId, counts);
      const final = (await this.store.getBatch(batchId)) ?? current ?? batch;
      const manifest = await this.results.writeManifest(final, jobs);
      await this.results.writeConsolidated(final);
      await this.quiescence?.batchEnded(final, jobs);
      return {
        batchId,
        status: final.status,
        counts,
        manifest,
        decidedBy: cas.won ? "finalize" : "earlier",
      };
    }
  }

  /**
   * A job the execution ended before it finished: cancelled if the batch has a cancel intent (as
   * any cancel decides), otherwise, or if the cancel leaves it (in its commit), failed.
   */
  private async endUnfinishedJob(
    job: JobRecord,
    intent: CancelIntent | undefined,
    at: string,
  ): Promise<void> {
    if (intent) {
      const report = await applyJobCancel(this.store, job, intent, at);
      if (report.outcome === "cancelled" || report.outcome === "already_finished") return;
    }
    await this.store.transitionJob(
      job.batchId,
      job.jobId,
      jobTransitions.fail(
        {
          name: ERROR_NAMES.jobNotFinished,
          message: "the workflow ended before this job finished",
        },
        at,
      ),
    );
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
