import type { BatchRecord, CancelIntent } from "./model.ts";
import type { ExecutionStatusChange } from "./reconcile.ts";

/** Hands the marking of a cancelled batch's remaining jobs to the reconciler, off the request's path. */
export interface ReconcileRequests {
  /** Queues a reconcile of this cancelled batch (as its ABORTED status change would). */
  requestReconcile(batch: BatchRecord, intent: CancelIntent): Promise<void>;
}

/** What the domain needs from Step Functions; implemented with the SDK in commons. */
export interface WorkflowPort {
  /**
   * Starts the batch's execution, named by its batch id. Returns the execution ARN. Starting one
   * that already exists is not an error: a retried submit or the sweep may start it twice.
   */
  startExecution(name: string, input: unknown): Promise<string>;
  /** An execution's status, as its status-change event would carry it; undefined if none exists. */
  describeExecution(executionArn: string): Promise<ExecutionStatusChange | undefined>;
  /** Stops an execution; an execution that no longer runs is not an error. */
  stopExecution(executionArn: string, error: string, cause: string): Promise<void>;
}
