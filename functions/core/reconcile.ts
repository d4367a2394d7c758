import type { BatchStore } from "../adapters/dynamodb/batch-store.ts";
import { mapLimit } from "./concurrency.ts";
import {
  type BatchStatus,
  type CancelIntent,
  isBatchTerminal,
  isJobTerminal,
  type JobRecord,
} from "./model.ts";
import type { ResultsService } from "./results-service.ts";
import type { WorkflowService } from "./completion.ts";

export type ExecutionStatus =
  | "RUNNING"
  | "SUCCEEDED"
  | "FAILED"
  | "TIMED_OUT"
  | "ABORTED"
  | "PENDING_REDRIVE";

/** The part of a "Step Functions Execution Status Change" event the reconciler reads. */
export interface ExecutionStatusChange {
  readonly executionArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly stopDate?: number | null;
  readonly error?: string | null;
  readonly cause?: string | null;
}

/** The error the cancel Lambda stops executions with; any other abort came from elsewhere (the console). */
export const API_CANCEL_ERROR = "BatchCancelled";

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
    private readonly workflow: WorkflowService,
    private readonly results: ResultsService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async reconcile(change: ExecutionStatusChange): Promise<ReconcileResult> {
    const batchId = change.name;
    const batch = await this.store.getBatch(batchId);
    if (!batch || batch.executionArn !== change.executionArn) return { batchId, action: "ignored" };
    if (change.status === "RUNNING" || change.status === "PENDING_REDRIVE")
      return { batchId, action: "ignored" };

    if (change.status === "SUCCEEDED") {
      // Finalize ran inside the execution; this only repairs a batch it could not finish.
      if (isBatchTerminal(batch.status))
        return { batchId, action: "already_consistent", status: batch.status };
      const final = await this.workflow.finalize(batchId);
      return { batchId, action: "reconciled", status: final.status };
    }

    const at = this.now().toISOString();
    const stoppedAt = change.stopDate ? new Date(change.stopDate).toISOString() : at;
    const jobs = await this.store.listJobs(batchId);
    let changed = 0;

    if (change.status === "ABORTED") {
      const intent: CancelIntent = batch.cancel ?? {
        requestedAt: stoppedAt,
        by: abortedBy(change.error),
        reason: change.cause || change.error || "execution stopped outside stepbatch",
        scope: "batch",
      };
      if (!batch.cancel && !isBatchTerminal(batch.status))
        await this.store.setBatchCancelIntent(batchId, intent);
      const outcomes = await mapLimit(jobs, 16, (job) => this.endAbortedJob(job, intent, at));
      changed = outcomes.filter(Boolean).length;
      const finished = await this.store.finishBatch(batchId, "cancelled", at);
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
          change.status === "TIMED_OUT" ? "States.Timeout" : (change.error ?? "ExecutionFailed"),
        message: describe(change),
      };
      const outcomes = await mapLimit(jobs, 16, async (job) =>
        isJobTerminal(job.status)
          ? false
          : (await this.store.failJob(batchId, job.jobId, error, at)).won,
      );
      changed = outcomes.filter(Boolean).length;
      await this.store.finishBatch(batchId, "failed", at, { error });
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
    if (!ended.some((job) => Object.values(job.phases).some((p) => p.status === "running")))
      await this.results.recomputeTotals(batchId, ended);
    const current = await this.store.getBatch(batchId);
    if (current) await this.results.writeManifest(current, ended);
    return {
      batchId,
      action: changed > 0 || current?.status !== batch.status ? "reconciled" : "already_consistent",
      status: current?.status ?? batch.status,
      jobsChanged: changed,
    };
  }

  /** One job of an aborted execution: cancelled, unless it is in its final commit (which completes on its own). */
  private async endAbortedJob(job: JobRecord, intent: CancelIntent, at: string): Promise<boolean> {
    if (isJobTerminal(job.status)) return false;
    if (job.status === "queued")
      return (await this.store.cancelQueuedJob(job.batchId, job.jobId, intent, at)).won;
    if (job.inCommit) return false;
    return (await this.store.cancelRunningJob(job.batchId, job.jobId, intent, at, job.phase)).won;
  }
}

/** Who stopped an execution, as far as its abort error tells: the API's cancel, or the console. */
function abortedBy(error: string | null | undefined): string {
  return error === API_CANCEL_ERROR ? "api" : "console";
}

function describe(change: ExecutionStatusChange): string {
  if (change.status === "TIMED_OUT") return "the batch execution timed out";
  const cause = change.cause ? `: ${change.cause}` : "";
  return `the batch execution failed (${change.error ?? "unknown error"})${cause}`.slice(0, 2000);
}
