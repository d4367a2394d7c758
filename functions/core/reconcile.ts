import type { BatchCompletion } from "./completion.ts";
import { mapLimit } from "./concurrency.ts";
import { ERROR_NAMES } from "./errors.ts";
import { batchIdOfExecution, type ExecutionStatusChange, stoppedBy } from "./execution.ts";
import { applyJobCancel, endedByThisCancel } from "./job-cancel.ts";
import {
  type BatchStatus,
  type CancelIntent,
  hasRunningPhase,
  isBatchTerminal,
  isJobTerminal,
  type JobRecord,
} from "./model.ts";
import type { BatchStore } from "./ports.ts";
import type { Quiescence } from "./quiesce.ts";
import type { Results } from "./results.ts";
import { batchTransitions, jobTransitions } from "./transitions.ts";

export interface ReconcileResult {
  readonly batchId: string;
  readonly action: "ignored" | "already_consistent" | "reconciled";
  readonly status?: BatchStatus;
  readonly jobsChanged?: number;
}

/**
 * Brings a batch and its jobs to one consistent terminal state once its execution ended, whoever
 * ended it: the API's cancel, a stop from the console, a failure or a timeout. Every write is a
 * compare-and-set, so running alongside the cancel Lambda, or twice for a duplicated event, ends
 * in the same state.
 */
export class Reconciler {
  constructor(
    private readonly store: BatchStore,
    private readonly completion: BatchCompletion,
    private readonly results: Results,
    private readonly now: () => Date = () => new Date(),
    private readonly quiescence?: Pick<Quiescence, "batchEnded">,
  ) {}

  async reconcile(change: ExecutionStatusChange): Promise<ReconcileResult> {
    const batchId = batchIdOfExecution(change.name);
    const batch = await this.store.getBatch(batchId);
    if (!batch || batch.executionArn !== change.executionArn) return { batchId, action: "ignored" };
    if (change.status === "RUNNING" || change.status === "PENDING_REDRIVE")
      return { batchId, action: "ignored" };

    if (change.status === "SUCCEEDED") {
      // Finalize ran inside the execution; this only repairs a batch it could not finish.
      if (isBatchTerminal(batch.status))
        return { batchId, action: "already_consistent", status: batch.status };
      const final = await this.completion.finalize(batchId);
      return { batchId, action: "reconciled", status: final.status };
    }

    const at = this.now().toISOString();
    const stoppedAt = change.stopDate ? new Date(change.stopDate).toISOString() : at;
    const jobs = await this.store.listJobs(batchId);
    let changed = 0;

    if (change.status === "ABORTED") {
      const intent: CancelIntent = batch.cancel ?? {
        requestedAt: stoppedAt,
        by: stoppedBy(change.error),
        reason: change.cause || change.error || "execution stopped outside stepbatch",
        scope: "batch",
      };
      if (!batch.cancel && !isBatchTerminal(batch.status)) {
        await this.store.transitionBatch(
          batchId,
          batchTransitions.claimCancel(intent, change.executionArn),
        );
        // A stop from the console: the phases still running learn of it from the signal.
        await this.store.raiseCancelSignal(batchId);
      }
      const outcomes = await mapLimit(jobs, 16, (job) => this.endAbortedJob(job, intent, at));
      changed = outcomes.filter(Boolean).length;
      // A job ended here may have a phase still running (after a drain, say): it stops on the signal.
      if (changed > 0) await this.store.raiseCancelSignal(batchId);
      const finished = await this.store.transitionBatch(
        batchId,
        batchTransitions.finish("cancelled", at, undefined, change.executionArn),
      );
      if (finished.won || !batch.cancel) {
        await this.store.appendAudit(batchId, {
          at,
          action: "reconcile_aborted",
          by: intent.by,
          reason: intent.reason,
          detail: { jobsChanged: changed, error: change.error ?? null },
        });
      }
    } else {
      const error = {
        name:
          change.status === "TIMED_OUT"
            ? ERROR_NAMES.statesTimeout
            : (change.error ?? ERROR_NAMES.executionFailed),
        message: describe(change),
      };
      const outcomes = await mapLimit(jobs, 16, async (job) =>
        isJobTerminal(job.status)
          ? false
          : (await this.store.transitionJob(batchId, job.jobId, jobTransitions.fail(error, at)))
              .won,
      );
      changed = outcomes.filter(Boolean).length;
      await this.store.transitionBatch(
        batchId,
        batchTransitions.finish("failed", at, error, change.executionArn),
      );
      await this.store.appendAudit(batchId, {
        at,
        action: "reconcile_failed",
        by: "stepfunctions",
        reason: error.message,
        detail: { jobsChanged: changed },
      });
    }

    const ended = await this.store.listJobs(batchId);
    // Recompute the sums exactly, unless a phase is still stopping: it adds its own part as it
    // records itself, and a recompute now could count that part twice or not at all.
    if (!ended.some(hasRunningPhase)) await this.results.recomputeTotals(batchId, ended);
    const current = await this.store.getBatch(batchId);
    if (current) {
      await this.results.writeManifest(current, ended);
      await this.quiescence?.batchEnded(current, ended);
    }
    return {
      batchId,
      action: changed > 0 || current?.status !== batch.status ? "reconciled" : "already_consistent",
      status: current?.status ?? batch.status,
      jobsChanged: changed,
    };
  }

  /** One job of an aborted execution, ended as any cancel ends a job; true if this changed it. */
  private async endAbortedJob(job: JobRecord, intent: CancelIntent, at: string): Promise<boolean> {
    if (isJobTerminal(job.status)) return false;
    const report = await applyJobCancel(this.store, job, intent, at, { executionStopped: true });
    return endedByThisCancel(report) || report.detail === "commit_failed";
  }
}

function describe(change: ExecutionStatusChange): string {
  if (change.status === "TIMED_OUT") return "the batch execution timed out";
  const cause = change.cause ? `: ${change.cause}` : "";
  return `the batch execution failed (${change.error ?? "unknown error"})${cause}`.slice(0, 2000);
}
