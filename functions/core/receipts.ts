/**
 * A cancel's receipt: what it asked for, and each affected job's outcome as it settles. The
 * outcomes are read from the jobs' own records (their status, the cancel that ended them, the
 * phase they were in and when it ended), so nothing has to be written as a job settles, and a
 * receipt is always as current as the jobs it covers.
 */
import { mapLimit } from "./concurrency.ts";
import { BatchNotFoundError, CancellationNotFoundError, ValidationError } from "./errors.ts";
import {
  type CancelIntent,
  type CancelScope,
  isJobTerminal,
  type JobRecord,
  type StopMode,
  stopModeOf,
} from "./model.ts";
import type { BatchStore } from "./ports.ts";

/** What a cancel asked for, kept as its receipt. */
export interface CancellationRecord {
  readonly cancellationId: string;
  readonly batchId: string;
  readonly scope: CancelScope;
  readonly mode: StopMode;
  readonly graceSeconds?: number;
  readonly requestedAt: string;
  readonly by: string;
  readonly claimedBy?: string;
  readonly reason: string;
  /** The jobs a subset or job cancel named (a batch cancel covers every job of its batch). */
  readonly jobIds?: readonly string[];
}

/** How a job affected by a cancel ended, or that it has not yet. */
export type ReceiptOutcome =
  /** queued: it never started */
  | "cancelled_before_start"
  /** its running phase stopped at a safe point (mode now) */
  | "stopped_at_safe_point"
  /** it finished the phase it was in, and started no other (mode after-phase) */
  | "finished_phase_then_stopped"
  /** it finished all its phases (mode drain) */
  | "drained"
  /** it had ended (or another cancel had ended it) before this cancel */
  | "completed_before_cancel"
  /** it was in its final phase, which completed */
  | "in_commit_completed"
  /** its phase had not stopped when the grace ran out; what it returned later is kept apart */
  | "ignored_signal"
  /** it failed after the cancel (its final phase failed, or it ran out of retries) */
  | "failed"
  /** not settled yet: a phase is still stopping, finishing, or draining */
  | "pending";

export interface JobReceipt {
  readonly jobId: string;
  readonly name: string;
  readonly outcome: ReceiptOutcome;
  /** When it settled; null while pending. */
  readonly at: string | null;
  /** The phase it was in when the cancel reached it, when it was running one. */
  readonly phase: string | null;
  /** The run a resume queued it again in, if one did since. */
  readonly resumedInRun?: number;
}

/** The cancel's record for a job store's sake: taken from the intent the cancel wrote. */
export function cancellationOf(
  batchId: string,
  intent: CancelIntent,
  jobIds?: readonly string[],
): CancellationRecord | undefined {
  if (!intent.cancellationId) return undefined;
  return {
    cancellationId: intent.cancellationId,
    batchId,
    scope: intent.scope,
    mode: stopModeOf(intent),
    ...(intent.graceSeconds !== undefined ? { graceSeconds: intent.graceSeconds } : {}),
    requestedAt: intent.requestedAt,
    by: intent.by,
    ...(intent.claimedBy ? { claimedBy: intent.claimedBy } : {}),
    reason: intent.reason,
    ...(jobIds ? { jobIds } : {}),
  };
}

/**
 * The outcome of one job under one cancel, from the job's record as it is now; a job resumed
 * since is judged as it was when the resume queued it again, and says which run took it up.
 */
export function receiptOutcome(
  job: JobRecord,
  cancellation: CancellationRecord,
  now: Date,
): JobReceipt {
  const before = job.resumedFrom;
  if (before?.cancel?.cancellationId === cancellation.cancellationId && job.run) {
    const { resumedFrom: _before, run: _run, ...rest } = job;
    const { run: _earlierRun, ...asItWas } = before;
    return {
      ...receiptOutcome({ ...rest, ...asItWas }, cancellation, now),
      resumedInRun: job.run,
    };
  }
  const settled = (outcome: ReceiptOutcome, at: string | undefined, phase?: string) => ({
    jobId: job.jobId,
    name: job.name,
    outcome,
    at: outcome === "pending" ? null : (at ?? null),
    phase: phase ?? null,
  });
  const graceEnds =
    cancellation.graceSeconds !== undefined
      ? Date.parse(cancellation.requestedAt) + cancellation.graceSeconds * 1000
      : undefined;
  const ended = job.endedAt;
  const byThisCancel = job.cancel?.cancellationId === cancellation.cancellationId;

  if (!byThisCancel) {
    if (
      isJobTerminal(job.status) &&
      (job.status === "cancelled" || (ended ?? "") <= cancellation.requestedAt)
    )
      return settled("completed_before_cancel", ended);
    if (job.status === "succeeded")
      return settled(cancellation.mode === "drain" ? "drained" : "in_commit_completed", ended);
    if (job.status === "failed") return settled("failed", ended);
    return settled("pending", undefined, job.phase);
  }
  switch (job.status) {
    case "cancelled": {
      const phase = job.wasInPhase;
      if (!phase) return settled("cancelled_before_start", ended);
      const record = job.phases[phase];
      if (!record || record.status === "running") {
        const expired = graceEnds !== undefined && now.getTime() > graceEnds;
        return expired
          ? settled("ignored_signal", new Date(graceEnds).toISOString(), phase)
          : settled("pending", undefined, phase);
      }
      if (record.status === "succeeded")
        return settled("finished_phase_then_stopped", record.endedAt ?? ended, phase);
      const stoppedAt = record.endedAt ?? ended ?? "";
      if (graceEnds !== undefined && Date.parse(stoppedAt) > graceEnds)
        return settled("ignored_signal", new Date(graceEnds).toISOString(), phase);
      return settled("stopped_at_safe_point", stoppedAt, phase);
    }
    case "succeeded":
      return settled("in_commit_completed", ended, job.phase);
    case "failed":
      return settled("failed", ended, job.phase);
    default:
      // Running with this cancel's intent: it stops once its phase ends (after-phase).
      return settled("pending", undefined, job.phase);
  }
}

/** Reads receipts: the cancel's record, and a page of its jobs' outcomes. */
export class Receipts {
  constructor(
    private readonly store: BatchStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async receipt(
    batchId: string,
    cancellationId: string,
    page: { limit?: number; cursor?: string } = {},
  ) {
    const cancellation = await this.store.getCancellation(batchId, cancellationId);
    if (!cancellation) {
      if (!(await this.store.getBatch(batchId))) throw new BatchNotFoundError(batchId);
      throw new CancellationNotFoundError(batchId, cancellationId);
    }
    const limit = page.limit ?? RECEIPT_PAGE;
    const { jobs, nextCursor } = cancellation.jobIds
      ? await this.namedJobs(batchId, cancellation.jobIds, limit, page.cursor)
      : await this.store.listJobsPage(batchId, {
          limit,
          ...(page.cursor ? { cursor: page.cursor } : {}),
        });
    const now = this.now();
    const outcomes = jobs.map((job) => receiptOutcome(job, cancellation, now));
    return { cancellation, outcomes, nextCursor: nextCursor ?? null };
  }

  /** A page of the jobs a subset or job cancel named, in the order it named them. */
  private async namedJobs(
    batchId: string,
    jobIds: readonly string[],
    limit: number,
    cursor: string | undefined,
  ): Promise<{ jobs: JobRecord[]; nextCursor?: string }> {
    const start = cursor ? Number(cursor) : 0;
    if (!/^\d{1,7}$/.test(cursor ?? "0") || start > jobIds.length)
      throw new ValidationError("cursor is not a cursor returned for this receipt");
    const ids = jobIds.slice(start, start + limit);
    const found = await mapLimit(ids, 8, (jobId) => this.store.getJob(batchId, jobId));
    const jobs = found.filter((job): job is JobRecord => job !== undefined);
    return start + limit < jobIds.length ? { jobs, nextCursor: String(start + limit) } : { jobs };
  }
}

/** Jobs per page of a receipt. */
export const RECEIPT_PAGE = 100;
