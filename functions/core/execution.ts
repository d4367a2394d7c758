/**
 * A batch's execution as the core sees it: its statuses and the status change the reconciler reads,
 * in Step Functions' own words (one execution per batch, named by its batch id).
 */
import { ERROR_NAMES } from "./errors.ts";
import type { BatchRecord, CancelIntent } from "./model.ts";

/** Every status an execution has, as Step Functions names it. */
export const EXECUTION_STATUSES = [
  "RUNNING",
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "ABORTED",
  "PENDING_REDRIVE",
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** The statuses of an execution that has ended: the status changes the reconciler listens for. */
export const ENDED_EXECUTION_STATUSES = [
  "SUCCEEDED",
  "FAILED",
  "TIMED_OUT",
  "ABORTED",
] as const satisfies readonly ExecutionStatus[];

/** The detail-type of the events Step Functions sends when an execution's status changes. */
export const STATUS_CHANGE_DETAIL_TYPE = "Step Functions Execution Status Change";

/** Who an execution's stop is recorded as: stepbatch's own cancel, or someone in the console. */
export const STOPPED_BY = { api: "api", console: "console" } as const;

/** The part of a "Step Functions Execution Status Change" event the reconciler reads. */
export interface ExecutionStatusChange {
  readonly executionArn: string;
  readonly name: string;
  readonly status: ExecutionStatus;
  readonly stopDate?: number | null;
  readonly error?: string | null;
  readonly cause?: string | null;
}

/** The status change a stepbatch cancel causes (or stands for, where no execution ran). */
export function cancelledExecution(
  batch: Pick<BatchRecord, "batchId" | "executionArn">,
  intent: Pick<CancelIntent, "requestedAt" | "reason"> | undefined,
): ExecutionStatusChange {
  return {
    executionArn: batch.executionArn,
    name: batch.executionArn.split(":").at(-1) ?? batch.batchId,
    status: "ABORTED",
    stopDate: intent ? Date.parse(intent.requestedAt) : null,
    error: ERROR_NAMES.batchCancelled,
    cause: intent?.reason ?? "cancelled",
  };
}

/** Who stopped an execution, as far as its abort error tells: stepbatch's cancel, or the console. */
export const stoppedBy = (error: string | null | undefined): string =>
  error === ERROR_NAMES.batchCancelled ? STOPPED_BY.api : STOPPED_BY.console;

/** A batch's execution name in a run: its batch id for the first, `<batchId>-run-<n>` after. */
export const executionNameOf = (batchId: string, run: number): string =>
  run <= 1 ? batchId : `${batchId}-run-${run}`;

/** The batch an execution belongs to, from the execution's name. */
export function batchIdOfExecution(name: string): string {
  const resumed = /^(.+)-run-\d+$/.exec(name);
  return resumed?.[1] ?? name;
}
