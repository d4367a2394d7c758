/**
 * The cancel of one job, decided and applied in this one place. Every path that ends a job because
 * of a cancel comes here: a cancel request (batch, subset or job), a phase that finds the intent
 * before it starts, the end of an execution that was stopped, and finalize.
 */
import { ERROR_NAMES } from "./errors.ts";
import { type CancelIntent, type JobRecord, type StopMode, stopModeOf } from "./model.ts";
import type { BatchStore } from "./ports.ts";
import { jobTransitions } from "./transitions.ts";

/** What a cancel may do to one job, decided from its current record alone. */
export type JobCancelDecision =
  | "cancel_queued"
  | "cancel_running"
  | "already_cancelled"
  | "already_finished"
  | "in_commit"
  | "fail_stranded_commit"
  | "stop_after_phase"
  | "stopping_after_phase"
  | "let_finish";

/**
 * - queued: cancelled, it never starts (whatever the mode);
 * - running in its final phase: left to finish (a commit is never cut in half); but once the
 *   execution is stopped, a final phase that failed (and is not running again) has no retry
 *   coming, so the job ends failed rather than running for ever;
 * - running another phase, by the cancel's mode:
 *   - `now`: cancelled, remembering the phase it was in (`wasInPhase`); the phase stops at its
 *     next safe point;
 *   - `after-phase`: marked to stop once its phase ends (the next phase never starts);
 *   - `drain`: left to finish all its phases;
 * - ended: left as it ended.
 */
export function decideJobCancel(
  job: Pick<JobRecord, "status" | "inCommit" | "phase" | "phases" | "cancel">,
  options: {
    readonly executionStopped?: boolean;
    readonly betweenPhases?: boolean;
    readonly mode?: StopMode;
  } = {},
): JobCancelDecision {
  switch (job.status) {
    case "queued":
      return "cancel_queued";
    case "running":
      if (job.inCommit)
        return options.executionStopped && finalPhaseFailed(job)
          ? "fail_stranded_commit"
          : "in_commit";
      // A stopped execution starts no further phase, and a job between phases has finished
      // one: either way, whatever the mode, the job stops now.
      switch (options.executionStopped || options.betweenPhases ? "now" : (options.mode ?? "now")) {
        case "now":
          return "cancel_running";
        case "after-phase":
          return job.cancel ? "stopping_after_phase" : "stop_after_phase";
        case "drain":
          return "let_finish";
      }
      break;
    case "cancelled":
      return "already_cancelled";
    case "succeeded":
    case "failed":
      return "already_finished";
  }
}

/**
 * The intent that keeps a job's next phase from starting, if any: a queued job starts under no
 * cancel; a job between phases goes on only under a batch's `drain`.
 */
export function intentStoppingNextPhase(
  job: Pick<JobRecord, "status" | "cancel">,
  batchIntent: CancelIntent | undefined,
): CancelIntent | undefined {
  if (job.cancel) return job.cancel;
  if (!batchIntent) return undefined;
  if (job.status === "running" && stopModeOf(batchIntent) === "drain") return undefined;
  return batchIntent;
}

/** Whether an intent stops running phases at once (their AbortSignal fires). */
export const stopsRunningPhases = (intent: CancelIntent | undefined): boolean =>
  intent !== undefined && stopModeOf(intent) === "now";

/** The final phase has run and failed, and no attempt of it runs now. */
function finalPhaseFailed(job: Pick<JobRecord, "phase" | "phases">): boolean {
  return job.phase !== undefined && job.phases[job.phase]?.status === "failed";
}

/** The outcome of a cancel for one job. */
export type JobCancelOutcome =
  | "cancelled"
  | "already_finished"
  | "not_found"
  | "not_cancelled"
  | "unknown";

export interface JobCancelReport {
  readonly outcome: JobCancelOutcome;
  readonly job?: JobRecord;
  /** Why: `in_commit`, who won a race, or that the reconciler will mark it (`deferred`). */
  readonly detail?:
    | "in_commit"
    | "after_phase"
    | "draining"
    | "completed_first"
    | "already_cancelled"
    | "error"
    | "deferred"
    | "commit_failed";
}

/** True when this report is the cancel that ended the job (not an earlier one). */
export const endedByThisCancel = (report: JobCancelReport): boolean =>
  report.outcome === "cancelled" && report.detail !== "already_cancelled";

/**
 * Applies a cancel to one job: decides on its record, writes the decision as a compare-and-set,
 * and decides again on the fresh record whenever another write (a phase, another cancel) won.
 * `executionStopped`: the batch's execution has been stopped, so no phase will be retried (the
 * record must then hold the job's phases).
 */
export async function applyJobCancel(
  store: BatchStore,
  job: JobRecord,
  intent: CancelIntent,
  at: string,
  options: { readonly executionStopped?: boolean; readonly betweenPhases?: boolean } = {},
): Promise<JobCancelReport> {
  let current: JobRecord | undefined = job;
  for (let attempt = 0; attempt < 4 && current; attempt++) {
    const lostRace = attempt > 0;
    switch (decideJobCancel(current, { ...options, mode: stopModeOf(intent) })) {
      case "already_cancelled":
        return { outcome: "cancelled", job: current, detail: "already_cancelled" };
      case "already_finished":
        return {
          outcome: "already_finished",
          job: current,
          ...(lostRace ? { detail: "completed_first" as const } : {}),
        };
      case "in_commit":
        return { outcome: "not_cancelled", job: current, detail: "in_commit" };
      case "let_finish":
        return { outcome: "not_cancelled", job: current, detail: "draining" };
      case "stopping_after_phase":
        return { outcome: "cancelled", job: current, detail: "after_phase" };
      case "stop_after_phase": {
        const cas = await store.transitionJob(
          current.batchId,
          current.jobId,
          jobTransitions.stopAfterPhase(intent),
        );
        if (cas.won) return { outcome: "cancelled", job: cas.record, detail: "after_phase" };
        current = cas.current;
        break;
      }
      case "fail_stranded_commit": {
        const phase = current.phase ?? "";
        const cas = await store.transitionJob(
          current.batchId,
          current.jobId,
          jobTransitions.failStrandedCommit(
            phase,
            current.phases[phase]?.attempt ?? 0,
            {
              name: ERROR_NAMES.stoppedBeforeRetry,
              message: `${phase} failed and the batch was stopped before it could be retried`,
            },
            at,
          ),
        );
        if (cas.won) return { outcome: "not_cancelled", job: cas.record, detail: "commit_failed" };
        current = cas.current;
        break;
      }
      case "cancel_queued":
      case "cancel_running": {
        const transition =
          current.status === "queued"
            ? jobTransitions.cancelQueued(intent, at)
            : jobTransitions.cancelRunning(intent, at, current.phase);
        const cas = await store.transitionJob(current.batchId, current.jobId, transition);
        if (cas.won) return { outcome: "cancelled", job: cas.record };
        current = cas.current;
        break;
      }
    }
  }
  return current ? { outcome: "unknown", job: current, detail: "error" } : { outcome: "not_found" };
}
