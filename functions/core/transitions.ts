/**
 * Every change of a batch's or a job's state, as data: what it sets, and the state the record
 * must be in for it to apply. A store applies a transition as one compare-and-set (the DynamoDB
 * adapter compiles the guard into a condition expression, the in-memory store evaluates it), so
 * a race between a cancel and a completion is settled by whichever write lands first, and the
 * rules of who may overtake whom are written here once.
 */
import {
  type BatchRecord,
  type BatchRun,
  type BatchStatus,
  type CancelIntent,
  type CancelSummary,
  JOB_TERMINAL,
  type JobRecord,
  type JobStatus,
  type PhaseProgress,
  type PhaseRecord,
  type PhaseStatus,
  type ResumedJob,
} from "./model.ts";

/** The state a record must be in for a transition to apply. */
export interface Guard<S extends string> {
  /** Its status is one of these. @default any status */
  readonly statusIn?: readonly S[];
  /** It has none of these fields (`cancel`: no cancel intent; `cancelSummary`: none recorded). */
  readonly without?: readonly ("cancel" | "cancelSummary" | "quiescedAt")[];
  /** Its commit fence is down: its final phase has not begun. */
  readonly outsideCommit?: boolean;
  /** It is still on this execution (a batch a resume has moved to a new run is not). */
  readonly executionIs?: string;
  /** One of its phases is in this state, at this attempt (no later attempt has started). */
  readonly phaseIs?: {
    readonly name: string;
    readonly status: PhaseStatus;
    readonly attempt: number;
  };
}

export interface Transition<R, S extends string> {
  /** What the transition is, for a reader of logs and tests. */
  readonly name: string;
  readonly set: Partial<R>;
  /** Fields set only where the record has none yet. */
  readonly setIfMissing?: Partial<R>;
  /** Fields the record no longer has. */
  readonly remove?: readonly (keyof R & string)[];
  /** One phase's entry in the job's `phases` map. */
  readonly phase?: { readonly name: string; readonly record: PhaseRecord };
  readonly when: Guard<S>;
}

export type BatchTransition = Transition<BatchRecord, BatchStatus>;
export type JobTransition = Transition<JobRecord, JobStatus>;

/** Whether a record satisfies a guard; the in-memory store's compare, and the rules' own check. */
export function guardHolds<S extends string>(
  guard: Guard<S>,
  record: {
    readonly status: S;
    readonly cancel?: unknown;
    readonly cancelSummary?: unknown;
    readonly quiescedAt?: unknown;
    readonly inCommit?: boolean;
    readonly executionArn?: string;
    readonly phases?: Readonly<Record<string, PhaseRecord>>;
  },
): boolean {
  if (guard.statusIn && !guard.statusIn.includes(record.status)) return false;
  for (const field of guard.without ?? []) if (record[field] !== undefined) return false;
  if (guard.outsideCommit && record.inCommit === true) return false;
  if (guard.executionIs !== undefined && record.executionArn !== guard.executionIs) return false;
  if (guard.phaseIs) {
    const phase = record.phases?.[guard.phaseIs.name];
    if (phase?.status !== guard.phaseIs.status || phase.attempt !== guard.phaseIs.attempt)
      return false;
  }
  return true;
}

/** Applies a transition to a record in memory (no guard check): what a store writes. */
export function applyTransition<R extends object>(record: R, transition: Transition<R, string>): R {
  const next: Record<string, unknown> = { ...record, ...transition.set };
  for (const [field, value] of Object.entries(transition.setIfMissing ?? {}))
    if (next[field] === undefined) next[field] = value;
  for (const field of transition.remove ?? []) delete next[field];
  if (transition.phase) {
    const phases = (next.phases ?? {}) as Record<string, PhaseRecord>;
    next.phases = { ...phases, [transition.phase.name]: transition.phase.record };
  }
  return next as R;
}

const ACTIVE: readonly BatchStatus[] = ["queued", "running"];
/** The batch statuses a resume starts from: ended, and not everything succeeded. */
export const RESUMABLE_BATCH: readonly BatchStatus[] = [
  "cancelled",
  "completed_with_errors",
  "failed",
];
/** What a batch's last run recorded that a new run starts without. */
const RESUME_CLEARS = [
  "cancel",
  "cancelSummary",
  "endedAt",
  "error",
  "quiescedAt",
  "stragglers",
  "stillStopping",
  "cancelSaved",
] as const;

export const batchTransitions = {
  /** queued|running -> cancelling, with the durable cancel intent. Loses to any terminal state. */
  claimCancel: (intent: CancelIntent, executionArn?: string): BatchTransition => ({
    name: "claimCancel",
    set: { status: "cancelling", cancel: intent },
    when: {
      statusIn: ACTIVE,
      without: ["cancel"],
      ...(executionArn !== undefined ? { executionIs: executionArn } : {}),
    },
  }),
  /** Records what the first cancel applied; loses if a summary is already there. */
  recordCancelSummary: (summary: CancelSummary): BatchTransition => ({
    name: "recordCancelSummary",
    set: { cancelSummary: summary },
    when: { without: ["cancelSummary"] },
  }),
  /** queued -> running, when its first phase starts (a resumed batch keeps its first start). */
  markRunning: (at: string): BatchTransition => ({
    name: "markRunning",
    set: { status: "running" },
    setIfMissing: { startedAt: at },
    when: { statusIn: ["queued"] },
  }),
  /**
   * An ended batch that did not succeed -> queued again, in a new run: what the last run's cancel
   * and end recorded goes to `runs`, and the batch's execution is the new run's.
   */
  resume: (runs: readonly BatchRun[]): BatchTransition => ({
    name: "resume",
    set: { status: "queued", runs, executionArn: runs.at(-1)?.executionArn ?? "" },
    remove: [...RESUME_CLEARS],
    when: { statusIn: RESUMABLE_BATCH },
  }),
  /** A cancelled batch whose last phase has stopped: it records when, once. */
  quiesce: (at: string): BatchTransition => ({
    name: "quiesce",
    set: { quiescedAt: at },
    remove: ["stillStopping"],
    when: { without: ["quiescedAt"] },
  }),
  /**
   * A batch still active (or being cancelled) ends with `status`; given the execution that ended,
   * only while the batch is still on it (a late reconcile never ends a resumed run).
   */
  finish: (
    status: BatchStatus,
    at: string,
    error?: BatchRecord["error"],
    executionArn?: string,
  ): BatchTransition => ({
    name: "finish",
    set: { status, endedAt: at, ...(error ? { error } : {}) },
    when: {
      statusIn: [...ACTIVE, "cancelling"],
      ...(executionArn !== undefined ? { executionIs: executionArn } : {}),
    },
  }),
  /**
   * Like finish, for a status decided from a record that had no cancel intent: it loses if an
   * intent has appeared since, so a late cancel is never overwritten by a completion.
   */
  finishUncancelled: (status: BatchStatus, at: string): BatchTransition => ({
    name: "finishUncancelled",
    set: { status, endedAt: at },
    when: { statusIn: ACTIVE, without: ["cancel"] },
  }),
} as const;

export const jobTransitions = {
  /** queued -> cancelled: the job never starts. */
  cancelQueued: (intent: CancelIntent, at: string): JobTransition => ({
    name: "cancelQueued",
    set: { status: "cancelled", cancel: intent, endedAt: at },
    when: { statusIn: ["queued"] },
  }),
  /** running -> cancelled, unless the job is in its final commit (the fence). */
  cancelRunning: (intent: CancelIntent, at: string, phase: string | undefined): JobTransition => ({
    name: "cancelRunning",
    set: {
      status: "cancelled",
      cancel: intent,
      endedAt: at,
      ...(phase ? { wasInPhase: phase } : {}),
    },
    when: { statusIn: ["running"], outsideCommit: true },
  }),
  /**
   * A running job outside its final phase gets an `after-phase` cancel intent: it stays running
   * until its phase ends, and the intent keeps its next phase from starting.
   */
  stopAfterPhase: (intent: CancelIntent): JobTransition => ({
    name: "stopAfterPhase",
    set: { cancel: intent },
    when: { statusIn: ["running"], without: ["cancel"], outsideCommit: true },
  }),
  /**
   * queued|running -> running in `phase`, unless a cancel intent is on the job. Entering the final
   * phase raises the commit fence in the same write, so a cancel lands before it or not at all.
   */
  startPhase: (phase: string, isFinal: boolean, at: string, attempt: number): JobTransition => ({
    name: "startPhase",
    set: { status: "running", phase, inCommit: isFinal },
    setIfMissing: { startedAt: at },
    phase: { name: phase, record: { status: "running", startedAt: at, attempt } },
    when: { statusIn: ["queued", "running"], without: ["cancel"] },
  }),
  /** A non-final phase finished; loses if a cancel ended the job meanwhile. */
  completePhase: (
    phase: string,
    record: PhaseRecord,
    numbers: Record<string, number>,
  ): JobTransition => ({
    name: "completePhase",
    set: { numbers },
    phase: { name: phase, record },
    when: { statusIn: ["running"] },
  }),
  /** The final phase finished: running -> succeeded, fence lowered. */
  succeed: (
    phase: string,
    record: PhaseRecord,
    numbers: Record<string, number>,
    at: string,
  ): JobTransition => ({
    name: "succeed",
    set: { status: "succeeded", inCommit: false, numbers, endedAt: at },
    phase: { name: phase, record },
    when: { statusIn: ["running"] },
  }),
  /** A phase stopped at a safe point after a cancel: the job ends cancelled (if not already). */
  abortPhase: (
    phase: string,
    record: PhaseRecord,
    numbers: Record<string, number>,
    at: string,
  ): JobTransition => ({
    name: "abortPhase",
    set: { status: "cancelled", inCommit: false, numbers },
    setIfMissing: { wasInPhase: phase, endedAt: at },
    phase: { name: phase, record },
    when: { statusIn: ["running", "cancelled"] },
  }),
  /**
   * A failed attempt of a phase, and what the job has now; it stays running until retries run
   * out. The fence stays up: a final phase that failed half-way is retried or failed, never
   * cancelled half-committed.
   */
  recordPhaseFailure: (
    phase: string,
    record: PhaseRecord,
    numbers: Record<string, number>,
  ): JobTransition => ({
    name: "recordPhaseFailure",
    set: { numbers },
    phase: { name: phase, record },
    when: { statusIn: ["running"] },
  }),
  /** queued|running -> failed, with the error that ended it. */
  /**
   * queued/running -> failed. `phase`: the phase it failed in, whose record still says running
   * (its handler died before it could record how it ended), ends failed with it; the transition
   * then loses if that record has changed since it was read (the caller fails the job alone).
   */
  fail: (
    error: { name: string; message: string },
    at: string,
    phase?: { readonly name: string; readonly record: PhaseRecord },
  ): JobTransition => ({
    name: "fail",
    set: { status: "failed", inCommit: false, error, endedAt: at },
    ...(phase
      ? {
          phase: {
            name: phase.name,
            record: { ...phase.record, status: "failed", endedAt: at, error: error.message },
          },
        }
      : {}),
    when: {
      statusIn: ["queued", "running"],
      ...(phase
        ? { phaseIs: { name: phase.name, status: "running", attempt: phase.record.attempt } }
        : {}),
    },
  }),
  /**
   * running -> failed, for a job whose final phase failed (at `attempt`) in an execution that was
   * stopped: no retry will come. Loses if a retry has started that phase again meanwhile.
   */
  failStrandedCommit: (
    phase: string,
    attempt: number,
    error: { name: string; message: string },
    at: string,
  ): JobTransition => ({
    name: "failStrandedCommit",
    set: { status: "failed", inCommit: false, error, endedAt: at },
    when: { statusIn: ["running"], phaseIs: { name: phase, status: "failed", attempt } },
  }),
  /**
   * cancelled -> queued, in a new run of its batch: it starts again at the phase it stopped in,
   * from that phase's last checkpoint (phases it finished are not run again).
   */
  resume: (run: number, from: ResumedJob): JobTransition => ({
    name: "resume",
    set: { status: "queued", run, resumedFrom: from },
    remove: ["cancel", "wasInPhase", "endedAt", "error", "progress", "inCommit"],
    when: { statusIn: ["cancelled"] },
  }),
  /** What a running phase reported last; ignored once the job has ended. */
  setProgress: (progress: PhaseProgress): JobTransition => ({
    name: "setProgress",
    set: { progress },
    when: { statusIn: ["running"] },
  }),
} as const;

/** The guard of deleting a job's record: only once it has ended. */
export const deletableJob: Guard<JobStatus> = { statusIn: JOB_TERMINAL };
