/**
 * What the cancel routes answer: the core's results with the messages people read and the numeric
 * codes existing bulk-cancel clients read.
 */
import type { BatchCancelResult, JobCancelResult, SubsetCancelResult } from "../core/cancel.ts";
import type { JobCancelOutcome, JobCancelReport } from "../core/job-cancel.ts";

/** The code of each outcome, as existing bulk-cancel clients read them. */
const OUTCOME_CODES: Readonly<Record<JobCancelOutcome, number>> = {
  cancelled: 0,
  already_finished: 1,
  not_found: 2,
  not_cancelled: 3,
  unknown: 4,
};

/** POST /batches/{batchId}/cancel, whole batch. */
export type BatchCancelResponse = BatchCancelResult & { readonly message: string };

export function batchCancelView(result: BatchCancelResult): BatchCancelResponse {
  return { ...result, message: batchCancelMessage(result) };
}

function batchCancelMessage(result: BatchCancelResult): string {
  const { batchId } = result;
  if (result.status === "no_jobs_to_cancel")
    return `Batch ${batchId} already finished as ${result.batchStatus}; nothing to cancel`;
  if (result.alreadyCancelled) {
    const cancel = result.cancel;
    const by = cancel
      ? ` at ${cancel.requestedAt} by ${cancel.by}${cancel.claimedBy ? ` (claimed ${cancel.claimedBy})` : ""}`
      : "";
    return `Batch ${batchId} was already cancelled${by}: ${result.jobsCancelled} of ${result.total} jobs cancelled`;
  }
  const inCommit =
    result.inCommit.length > 0
      ? `; ${result.inCommit.length} in their final commit will complete`
      : "";
  if (result.draining)
    return (
      `Batch ${batchId} is draining: ${result.jobsCancelled} of ${result.total} jobs cancelled before they started; ` +
      `${result.draining.length} running job(s) finish all their phases, then the batch ends cancelled${inCommit}`
    );
  if (result.stoppingAfterPhase)
    return (
      `Batch ${batchId} stops after the running phases: ${result.jobsCancelled} of ${result.total} jobs cancelled; ` +
      `${result.stoppingAfterPhase.length} running job(s) stop once their phase ends${inCommit}`
    );
  const stopping = result.stopping?.length ?? 0;
  return (
    `Batch ${batchId} cancelled: ${result.jobsCancelled} of ${result.total} jobs cancelled, ` +
    `${result.jobsProcessed} with results kept` +
    (stopping > 0
      ? `; ${stopping} running phase(s) are stopping and saving their partial output (GET /batches/${batchId}/results)`
      : "") +
    (result.inCommit.length > 0
      ? `; ${result.inCommit.length} in their final commit will complete`
      : "")
  );
}

/** POST /batches/{batchId}/cancel with `jobs`: an outcome per item, and 1 all, 2 some, 0 none. */
export interface SubsetCancelResponse {
  readonly batchId: string;
  readonly cancellationId?: string;
  readonly mode: SubsetCancelResult["mode"];
  readonly selection?: SubsetCancelResult["selection"];
  readonly result: 0 | 1 | 2;
  readonly outcomes: Record<
    string,
    { code: number; outcome: JobCancelOutcome; text: string; jobId?: string }
  >;
  readonly message: string;
}

export function subsetCancelView(result: SubsetCancelResult): SubsetCancelResponse {
  const outcomes: SubsetCancelResponse["outcomes"] = {};
  for (const { item, report: found } of result.reports) {
    // A job someone cancelled before is finished as far as this request goes: code 1.
    const report: JobCancelReport =
      found.detail === "already_cancelled" ? { ...found, outcome: "already_finished" } : found;
    outcomes[item] = {
      code: OUTCOME_CODES[report.outcome],
      outcome: report.outcome,
      text: describeOutcome(item, report),
      ...(report.job ? { jobId: report.job.jobId } : {}),
    };
  }
  const { cancelled, requested } = result;
  return {
    batchId: result.batchId,
    ...(result.cancellationId ? { cancellationId: result.cancellationId } : {}),
    mode: result.mode,
    ...(result.selection ? { selection: result.selection } : {}),
    result: cancelled === requested ? 1 : cancelled > 0 ? 2 : 0,
    outcomes,
    message:
      `${cancelled} of ${requested} ${result.selection ? "selected" : "requested"} jobs cancelled in batch ${result.batchId}` +
      (result.selection?.endedMeanwhile.length
        ? `; ${result.selection.endedMeanwhile.length} of the previewed jobs had ended since the preview (${result.selection.endedMeanwhile.join(", ")})`
        : ""),
  };
}

/** POST /batches/{batchId}/jobs/{jobId}/cancel. */
export type JobCancelResponse = JobCancelResult & {
  /** `stopping_after_phase` and `draining`: the job is running, and stops (or ends) later. */
  readonly status: "cancelled" | "stopping_after_phase" | "draining";
  readonly message: string;
};

export function jobCancelView(result: JobCancelResult): JobCancelResponse {
  const who = `Job ${result.jobId}`;
  if (result.stopsAfterPhase !== undefined)
    return {
      status: "stopping_after_phase",
      ...result,
      message: `${who} stops once ${result.stopsAfterPhase ?? "its phase"} ends; its next phase never starts`,
    };
  if (result.draining !== undefined)
    return {
      status: "draining",
      ...result,
      message: `${who} is running ${result.draining ?? "a phase"} and finishes all its phases (drain)`,
    };
  return {
    status: "cancelled",
    ...result,
    message: cancelledText(who, result.alreadyCancelled, result.wasInPhase),
  };
}

/** "<who> cancelled during <phase>", "... before it started", or "... was already cancelled". */
function cancelledText(
  who: string,
  alreadyCancelled: boolean,
  wasInPhase: string | null | undefined,
): string {
  if (alreadyCancelled) return `${who} was already cancelled`;
  return `${who} cancelled${wasInPhase ? ` during ${wasInPhase}` : " before it started"}`;
}

function describeOutcome(item: string, report: JobCancelReport): string {
  const name = report.job ? `${report.job.name} (${report.job.jobId})` : item;
  switch (report.outcome) {
    case "cancelled":
      if (report.detail === "after_phase")
        return `${name} stops once ${report.job?.phase ?? "its phase"} ends`;
      return cancelledText(name, report.detail === "already_cancelled", report.job?.wasInPhase);
    case "already_finished":
      return report.detail === "already_cancelled"
        ? cancelledText(name, true, undefined)
        : `${name} already finished as ${report.job?.status}${report.detail === "completed_first" ? " (its completion won the race)" : ""}`;
    case "not_found":
      return `no job ${item} in this batch`;
    case "not_cancelled":
      if (report.detail === "commit_failed")
        return `${name} failed in its final commit after the batch was stopped`;
      if (report.detail === "draining")
        return `${name} is running ${report.job?.phase ?? "a phase"} and finishes all its phases (drain)`;
      return `${name} is in its final commit and will complete`;
    case "unknown":
      return `${name} could not be cancelled; try again`;
  }
}
