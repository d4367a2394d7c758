import { randomBytes } from "node:crypto";
import { mapLimit } from "./concurrency.ts";
import {
  BatchNotFoundError,
  ERROR_NAMES,
  IdempotencyConflictError,
  JobAlreadyFinishedError,
  JobInCommitError,
  JobNotFoundError,
  ValidationError,
} from "./errors.ts";
import { STOPPED_BY } from "./execution.ts";
import { applyJobCancel, endedByThisCancel, type JobCancelReport } from "./job-cancel.ts";
import {
  type BatchRecord,
  type CancelIntent,
  type CancelScope,
  type JobRecord,
  type JobStatus,
  jobFinder,
  type StopMode,
  stopModeOf,
} from "./model.ts";
import type { BatchStore, ExecutionEngine, ReconcileQueue } from "./ports.ts";
import { cancellationOf } from "./receipts.ts";
import { RESULTS_PAGE, type Results, type ResultsSummary } from "./results.ts";
import { requestHashOf } from "./schemas.ts";
import {
  type JobFilter,
  matches,
  newConfirmToken,
  SELECTION_TTL_SECONDS,
  type SelectionRecord,
} from "./selection.ts";
import { batchTransitions, guardHolds } from "./transitions.ts";

export interface CancelRequest {
  readonly reason?: string;
  readonly by: string;
  readonly claimedBy?: string;
  /** @default "now" */
  readonly mode?: StopMode;
  readonly graceSeconds?: number;
  /** The id this cancel's receipt gets (an Idempotency-Key's); @default a new one */
  readonly cancellationId?: string;
}

export const newCancellationId = (now: Date): string =>
  `c-${now.getTime().toString(36)}-${randomBytes(4).toString("hex")}`;

/** What a batch cancel did (the API view adds its message). */
export interface BatchCancelResult extends ResultsSummary {
  readonly batchId: string;
  /** `cancelling` while a `drain` or `after-phase` cancel lets running jobs end. */
  readonly status: "cancelled" | "cancelling" | "no_jobs_to_cancel";
  readonly batchStatus: BatchRecord["status"];
  /** The receipt: GET /batches/{batchId}/cancellations/{cancellationId}. */
  readonly cancellationId?: string;
  readonly mode?: StopMode;
  readonly jobsCancelled: number;
  readonly jobs: string[];
  readonly inCommit: string[];
  /** `after-phase`: jobs that stop once the phase they are in ends. */
  readonly stoppingAfterPhase?: { jobId: string; name: string; phase: string }[];
  /** `drain`: running jobs left to finish all their phases. */
  readonly draining?: { jobId: string; name: string; phase: string }[];
  /** Jobs whose running phase is stopping and saving its partial output as the answer is sent. */
  readonly stopping?: { jobId: string; name: string; phase: string }[];
  readonly alreadyCancelled?: boolean;
  readonly manifest?: string;
  readonly cancel?: CancelIntent;
  /** The batch's jobs, as the cancel counted them. */
  readonly total: number;
}

/** What a cancel of chosen jobs did, item by item (the API view adds codes and messages). */
export interface SubsetCancelResult {
  readonly batchId: string;
  readonly requested: number;
  /** Jobs this request cancelled (not counting those cancelled before). */
  readonly cancelled: number;
  readonly reports: readonly { readonly item: string; readonly report: JobCancelReport }[];
  readonly cancellationId?: string;
  readonly mode: StopMode;
  /** When the jobs were chosen by a filter, or by a previewed selection (its confirmToken). */
  readonly selection?: {
    readonly confirmToken?: string;
    readonly selected: number;
    /** Jobs of a previewed selection that had ended between the preview and the cancel. */
    readonly endedMeanwhile: readonly string[];
  };
}

/** What a dry run of a filter chose, and the token that cancels exactly those jobs. */
export interface SelectionPreview {
  readonly batchId: string;
  readonly dryRun: true;
  readonly filter: JobFilter;
  readonly count: number;
  readonly jobs: { jobId: string; name: string; status: JobStatus; phase: string | null }[];
  readonly confirmToken: string;
  readonly expiresAt: string;
}

/** What a cancel of one job did (the API view adds its message). */
export interface JobCancelResult {
  readonly batchId: string;
  readonly jobId: string;
  readonly name: string;
  readonly wasInPhase: string | null;
  readonly cancellationId?: string;
  readonly mode?: StopMode;
  /** `after-phase`: the phase the job finishes before it stops. */
  readonly stopsAfterPhase?: string | null;
  /** `drain`: the job was running, and finishes all its phases (the phase it is in now). */
  readonly draining?: string | null;
  readonly alreadyCancelled: boolean;
}

export interface CancelServiceOptions {
  /** Parallel job updates while marking a batch's jobs. */
  readonly markConcurrency: number;
  /** How long a batch cancel waits for running phases to save their partial output. */
  readonly settleMs: number;
  /** Batches with at least this many jobs get a results manifest written on cancel. */
  readonly manifestThreshold: number;
  /**
   * Up to this many queued jobs are marked within the request; beyond, they are reported as
   * cancelled and marked by the reconciler, so the cancel's latency does not grow with the batch.
   */
  readonly syncMarkLimit?: number;
  /** Where deferred marking goes. @default none: every job is marked within the request */
  readonly reconcileQueue?: ReconcileQueue;
  /**
   * How long a cancel that finds another cancel of the same batch under way waits for it to
   * finish, before finishing its work itself (its caller may be gone). @default 15_000
   */
  readonly concurrentCancelWaitMs?: number;
  readonly now?: () => Date;
}

const DEFAULT_REASON = "cancelled by request";

/**
 * The cancellation protocol: durable intent, StopExecution, mark the jobs, collect the partial
 * results. Every step is a compare-and-set, so a cancel can be repeated or race a completion.
 */
export class CancelService {
  private readonly now: () => Date;

  constructor(
    private readonly store: BatchStore,
    private readonly engine: ExecutionEngine,
    private readonly results: Results,
    private readonly options: CancelServiceOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async cancelBatch(batchId: string, request: CancelRequest): Promise<BatchCancelResult> {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    const intent = this.intent(request, "batch");

    // 1. Durable intent first. Exactly one cancel wins this write: it is the first, and it alone
    // reports what it cancelled. Losing means another cancel or the completion got there first.
    let active: BatchRecord = batch;
    let first = false;
    const claimCancel = batchTransitions.claimCancel(intent);
    if (guardHolds(claimCancel.when, batch)) {
      const claim = await this.store.transitionBatch(batchId, claimCancel);
      first = claim.won;
      active = claim.won ? claim.record : (claim.current ?? batch);
    }
    if (active.status === "cancelled") return this.reportCancelled(active);
    if (active.status !== "cancelling") return this.reportNothingToCancel(active);
    if (!first) {
      // Another cancel is being applied: report what it records once it is done.
      const settled = await this.waitForFirstCancel(batchId);
      if (settled.cancelSummary || settled.status === "cancelled")
        return this.reportCancelled(settled);
      if (settled.status !== "cancelling") return this.reportNothingToCancel(settled);
      // Still not done after the wait: its caller is gone. Finish its work; every step below is idempotent.
      active = settled;
    }
    const applied = active.cancel ?? intent;
    const mode = stopModeOf(applied);
    // Running phases read the intent once they see the signal: within about a second.
    if (mode === "now") await this.store.raiseCancelSignal(batchId);
    await this.keepReceipt(batchId, applied);

    // 2. `now`: stop the execution, so queued jobs never start. `drain` and `after-phase` leave it
    // running, to finish the phases they let run; the phases themselves refuse to start the rest.
    if (mode === "now")
      await this.engine.stopExecution(
        active.executionArn,
        ERROR_NAMES.batchCancelled,
        applied.reason,
      );

    // 3. Mark the jobs. Jobs in their final commit are left to finish. Running jobs (at most the
    // batch's concurrency) are marked now; after a `now` cancel, many queued jobs are handed to the
    // reconciler, since the stopped execution will never start them.
    const limit = this.options.syncMarkLimit ?? Number.POSITIVE_INFINITY;
    // Beyond `limit` queued jobs, a `now` cancel hands them to the reconciler.
    const defers = (queued: number) =>
      Boolean(mode === "now" && this.options.reconcileQueue && queued > limit);
    const read = await this.jobsToCancel(active, defers);
    const { jobs } = read;
    const queued = jobs.filter((job) => job.status === "queued");
    const deferred =
      read.queuedNotRead > 0 || defers(queued.length)
        ? await this.deferMarking(active, applied)
        : false;
    const markNow = deferred ? jobs.filter((job) => job.status !== "queued") : jobs;
    const reports = [
      ...(await mapLimit(markNow, this.options.markConcurrency, (job) =>
        this.cancelOne(job, applied),
      )),
      ...(deferred
        ? queued.map((job): JobCancelReport => ({ outcome: "cancelled", job, detail: "deferred" }))
        : []),
    ];
    // Queued jobs of a large batch handed to the reconciler unread: counted, not named.
    const deferredUnread = deferred ? read.queuedNotRead : 0;
    const cancelledNow = reports.filter(endedByThisCancel);
    const wasRunning = cancelledNow.filter((r) => r.job?.wasInPhase).map((r) => r.job as JobRecord);
    // A stopped execution's batch ends now; a drained one when its execution finishes.
    const finished =
      mode === "now"
        ? await this.store.transitionBatch(
            batchId,
            batchTransitions.finish("cancelled", this.now().toISOString()),
          )
        : undefined;
    const final = finished?.won
      ? finished.record
      : ((finished ? finished.current : await this.store.getBatch(batchId)) ?? active);
    // The batch ended otherwise in the meantime (its completion won): say so, do not claim a cancel.
    if (final.status !== "cancelled" && final.status !== "cancelling")
      return this.reportNothingToCancel(final);
    const inCommit = reports.filter((r) => r.detail === "in_commit").map((r) => r.job?.name ?? "");
    // Jobs this cancel has ended (or will mark, deferred); `after-phase` ones end later.
    const cancelledJobs = reports.filter(
      (r) => r.outcome === "cancelled" && r.detail !== "after_phase",
    );
    const recorded = await this.store.transitionBatch(
      batchId,
      batchTransitions.recordCancelSummary({
        jobsCancelled: cancelledJobs.length + deferredUnread,
        inCommit: inCommit.length,
        total: read.total,
        recordedAt: this.now().toISOString(),
      }),
    );
    // Another cancel finished this one's work first (this caller was slow): report what it recorded.
    if (!recorded.won) return this.reportCancelled(recorded.current ?? final);
    await this.store.appendAudit(batchId, {
      at: applied.requestedAt,
      action: "cancel_batch",
      by: applied.by,
      ...(applied.claimedBy ? { claimedBy: applied.claimedBy } : {}),
      reason: applied.reason,
      detail: {
        mode,
        cancellationId: applied.cancellationId ?? null,
        jobsCancelled: cancelledJobs.length + deferredUnread,
        inPhase: countBy(wasRunning.map((j) => j.wasInPhase ?? "")),
      },
    });

    // 4. Collect the results saved so far. Phases that were running save their partial output
    // within about a second of the cancel (the abort latency); the answer names them, and waits for
    // them only if settleMs asks it to, so its own latency does not grow with the work in flight.
    const stillSaving = await this.waitForRunningPhases(wasRunning);
    const summary = await this.partialResultsOf(
      (await this.store.getBatch(batchId)) ?? final,
      read.everyJob ? jobs : undefined,
    );
    // The manifest is the reconciler's to write (it runs on the ABORTED status change); say where.
    const manifest =
      read.total >= this.options.manifestThreshold ? this.results.manifestUri(batchId) : undefined;
    const stopping = stillSaving.map((job) => ({
      jobId: job.jobId,
      name: job.name,
      phase: job.wasInPhase ?? "",
    }));
    const runningWith = (detail: JobCancelReport["detail"]) =>
      reports
        .filter((r) => r.detail === detail && r.job)
        .map((r) => ({
          jobId: r.job?.jobId ?? "",
          name: r.job?.name ?? "",
          phase: r.job?.phase ?? "",
        }));
    return {
      batchId,
      status: final.status === "cancelled" ? "cancelled" : "cancelling",
      batchStatus: final.status,
      ...(applied.cancellationId ? { cancellationId: applied.cancellationId } : {}),
      mode,
      jobsCancelled: cancelledJobs.length + deferredUnread,
      jobs: cancelledJobs.map((r) => r.job?.name ?? ""),
      inCommit,
      stopping,
      ...(mode === "after-phase" ? { stoppingAfterPhase: runningWith("after_phase") } : {}),
      ...(mode === "drain" ? { draining: runningWith("draining") } : {}),
      cancel: applied,
      ...summary,
      ...(manifest ? { manifest } : {}),
      total: read.total,
    };
  }

  /**
   * The jobs a batch cancel reads. A small batch (or one from before job counts were kept): every
   * job. A large one: only the jobs that have not ended, from the index of active jobs, and not
   * even its queued ones when `deferQueued` says they go to the reconciler unread; so a cancel reads
   * about the batch's concurrency in jobs, whatever its size. A job the index shows late is still
   * stopped: by the batch's intent, which its next phase reads, and by the reconciler.
   */
  private async jobsToCancel(
    batch: BatchRecord,
    deferQueued: (queued: number) => boolean,
  ): Promise<{ jobs: JobRecord[]; total: number; everyJob: boolean; queuedNotRead: number }> {
    const counts = batch.jobCounts;
    if (!counts || counts.total < this.options.manifestThreshold) {
      const jobs = await this.store.listJobStates(batch.batchId);
      return { jobs, total: jobs.length, everyJob: true, queuedNotRead: 0 };
    }
    const unread = deferQueued(counts.queued);
    // A little over what the counts say: a job may start as this reads.
    const slack = 10;
    const [running, queued] = await Promise.all([
      this.store.listActiveJobs(
        batch.batchId,
        "running",
        Math.max(batch.concurrency, counts.running) + slack,
      ),
      unread || counts.queued === 0
        ? []
        : this.store.listActiveJobs(batch.batchId, "queued", counts.queued + slack),
    ]);
    const seen = new Set<string>();
    const jobs = [...running, ...queued].filter(
      (job) => !seen.has(job.jobId) && seen.add(job.jobId),
    );
    return {
      jobs,
      total: counts.total,
      everyJob: false,
      queuedNotRead: unread ? counts.queued : 0,
    };
  }

  /** Cancels chosen jobs (by id or name) and reports an outcome for each item. */
  async cancelJobs(
    batchId: string,
    items: readonly string[],
    request: CancelRequest,
  ): Promise<SubsetCancelResult> {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    return this.cancelAmong(batchId, items, await this.jobsNamed(batchId, items), request);
  }

  /**
   * The jobs `items` may name: when each is a job id of the batch, those jobs alone (one read
   * each); otherwise (names, or an id that is not one) every job, to find them by name.
   */
  private async jobsNamed(batchId: string, items: readonly string[]): Promise<JobRecord[]> {
    const unique = [...new Set(items)];
    if (unique.length <= READ_BY_ID_LIMIT && unique.every((item) => JOB_ID.test(item))) {
      const found = await mapLimit(unique, this.options.markConcurrency, (jobId) =>
        this.store.getJob(batchId, jobId),
      );
      if (found.every((job) => job !== undefined)) return found as JobRecord[];
    }
    return this.store.listJobs(batchId);
  }

  /** Cancels the items (job ids or names) found among `jobs`, an outcome for each. */
  private async cancelAmong(
    batchId: string,
    items: readonly string[],
    jobs: readonly JobRecord[],
    request: CancelRequest,
  ): Promise<SubsetCancelResult> {
    const intent = this.intent(request, "subset");
    const find = jobFinder(jobs);
    const unique = [...new Set(items)];
    const reports = await mapLimit(unique, this.options.markConcurrency, async (item) => {
      const job = find(item);
      if (!job) return { item, report: { outcome: "not_found" } as JobCancelReport };
      try {
        return { item, report: await this.cancelOne(job, intent) };
      } catch {
        return { item, report: { outcome: "unknown", job, detail: "error" } as JobCancelReport };
      }
    });
    const cancelled = reports.filter((r) => endedByThisCancel(r.report)).length;
    await this.signalIfStopped(
      batchId,
      reports.map((r) => r.report),
    );
    const named = [...new Set(reports.flatMap((r) => (r.report.job ? [r.report.job.jobId] : [])))];
    await this.keepReceipt(batchId, intent, named);
    await this.store.appendAudit(batchId, {
      at: intent.requestedAt,
      action: "cancel_jobs",
      by: intent.by,
      ...(intent.claimedBy ? { claimedBy: intent.claimedBy } : {}),
      reason: intent.reason,
      detail: { requested: unique.length, cancelled },
    });
    return {
      batchId,
      requested: unique.length,
      cancelled,
      reports,
      ...(intent.cancellationId ? { cancellationId: intent.cancellationId } : {}),
      mode: stopModeOf(intent),
    };
  }

  /** Previews what a filter chooses now, and keeps that choice under a confirmToken for an hour. */
  async previewSelection(batchId: string, filter: JobFilter): Promise<SelectionPreview> {
    const chosen = await this.choose(batchId, filter);
    const now = this.now();
    const record: SelectionRecord = {
      token: newConfirmToken(),
      batchId,
      filter,
      jobIds: chosen.map((job) => job.jobId),
      createdAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + SELECTION_TTL_SECONDS,
    };
    await this.store.putSelection(record);
    return {
      batchId,
      dryRun: true,
      filter,
      count: chosen.length,
      jobs: chosen.map((job) => ({
        jobId: job.jobId,
        name: job.name,
        status: job.status,
        phase: job.phase ?? null,
      })),
      confirmToken: record.token,
      expiresAt: new Date(record.expiresAt * 1000).toISOString(),
    };
  }

  /** Cancels exactly the jobs a preview chose, saying which of them had ended in between. */
  async cancelSelection(
    batchId: string,
    confirmToken: string,
    request: CancelRequest,
  ): Promise<SubsetCancelResult> {
    const selection = await this.store.getSelection(batchId, confirmToken);
    if (!selection || selection.expiresAt * 1000 < this.now().getTime())
      throw new ValidationError(
        `confirmToken ${confirmToken} is unknown or expired for batch ${batchId}; preview again with dryRun`,
      );
    const result = await this.cancelJobs(batchId, selection.jobIds, request);
    const endedMeanwhile = result.reports
      .filter(
        (r) => r.report.outcome === "already_finished" && r.report.detail !== "already_cancelled",
      )
      .map((r) => r.report.job?.name ?? r.item);
    return {
      ...result,
      selection: { confirmToken, selected: selection.jobIds.length, endedMeanwhile },
    };
  }

  /** Cancels the jobs a filter chooses now (no preview). */
  async cancelMatching(
    batchId: string,
    filter: JobFilter,
    request: CancelRequest,
  ): Promise<SubsetCancelResult> {
    // The jobs the filter just read are the ones cancelled: they are not read again.
    const chosen = await this.choose(batchId, filter);
    const ids = chosen.map((job) => job.jobId);
    const result = await this.cancelAmong(batchId, ids, chosen, request);
    return { ...result, selection: { selected: chosen.length, endedMeanwhile: [] } };
  }

  private async choose(batchId: string, filter: JobFilter): Promise<JobRecord[]> {
    if (!(await this.store.getBatch(batchId))) throw new BatchNotFoundError(batchId);
    // The job states hold status, phase and name; a filter on the input needs the whole records.
    const jobs = filter.input
      ? await this.store.listJobs(batchId)
      : await this.store.listJobStates(batchId);
    return jobs.filter((job) => matches(job, filter));
  }

  /** Cancels one job; a finished job or one in its final commit is an error the API turns into 409. */
  async cancelJob(
    batchId: string,
    jobId: string,
    request: CancelRequest,
  ): Promise<JobCancelResult> {
    const job = await this.store.getJob(batchId, jobId);
    if (!job) throw new JobNotFoundError(batchId, jobId);
    const intent = this.intent(request, "job");
    await this.keepReceipt(batchId, intent, [jobId]);
    const report = await this.cancelOne(job, intent);
    await this.signalIfStopped(batchId, [report]);
    const current = report.job ?? job;
    if (report.detail === "in_commit") {
      throw new JobInCommitError(
        `Job ${jobId} (${job.name}) is in its final commit and will complete; it was not cancelled`,
        { jobId, status: current.status },
      );
    }
    // A running job under `drain` is not cancelled: it is left to finish, which the answer says.
    if (report.outcome !== "cancelled" && report.detail !== "draining") {
      throw new JobAlreadyFinishedError(
        `Job ${jobId} (${job.name}) already finished as ${current.status}`,
        { jobId, status: current.status },
      );
    }
    if (endedByThisCancel(report)) {
      await this.store.appendAudit(batchId, {
        at: this.now().toISOString(),
        action: "cancel_job",
        by: request.by,
        ...(request.claimedBy ? { claimedBy: request.claimedBy } : {}),
        reason: request.reason ?? DEFAULT_REASON,
        detail: {
          jobId,
          wasInPhase: current.wasInPhase,
          mode: stopModeOf(intent),
          cancellationId: intent.cancellationId ?? null,
        },
      });
    }
    const applied = current.cancel ?? intent;
    return {
      batchId,
      jobId,
      name: current.name,
      wasInPhase: current.wasInPhase ?? null,
      alreadyCancelled: report.detail === "already_cancelled",
      ...(applied.cancellationId ? { cancellationId: applied.cancellationId } : {}),
      mode: stopModeOf(applied),
      ...(report.detail === "after_phase" ? { stopsAfterPhase: current.phase ?? null } : {}),
      ...(report.detail === "draining" ? { draining: current.phase ?? null } : {}),
    };
  }

  /**
   * Claims an Idempotency-Key for a cancel of this batch (24 h, as for submits): its first use
   * gets a new cancellationId; a repeat with the same body gets the earlier cancel's, to answer
   * with that cancel's receipt; the same key with another body is refused.
   */
  async claimIdempotencyKey(
    batchId: string,
    key: string,
    body: unknown,
  ): Promise<{ cancellationId: string; replay: boolean }> {
    const now = this.now();
    const requestHash = requestHashOf(body ?? {});
    // The claim's `batchId` holds the cancellation it is for.
    const claim = {
      key: `cancel:${batchId}:${key}`,
      batchId: newCancellationId(now),
      requestHash,
      createdAt: now.toISOString(),
      claimedAt: now.getTime(),
    };
    const claimed = await this.store.claimIdempotency(claim, Math.floor(now.getTime() / 1000));
    if (claimed.won || !claimed.current) return { cancellationId: claim.batchId, replay: false };
    if (claimed.current.requestHash !== requestHash)
      throw new IdempotencyConflictError(
        `Idempotency-Key '${key}' was already used for a different cancel (${claimed.current.batchId})`,
      );
    return { cancellationId: claimed.current.batchId, replay: true };
  }

  /** Keeps the cancel's receipt (GET /batches/{batchId}/cancellations/{cancellationId}). */
  private async keepReceipt(
    batchId: string,
    intent: CancelIntent,
    jobIds?: readonly string[],
  ): Promise<void> {
    const record = cancellationOf(batchId, intent, jobIds);
    if (record) await this.store.putCancellation(record);
  }

  /** Raises the batch's cancel signal once if these cancels ended a job in the middle of a phase. */
  private async signalIfStopped(
    batchId: string,
    reports: readonly JobCancelReport[],
  ): Promise<void> {
    if (reports.some((r) => endedByThisCancel(r) && r.job?.wasInPhase !== undefined))
      await this.store.raiseCancelSignal(batchId);
  }

  private cancelOne(job: JobRecord, intent: CancelIntent): Promise<JobCancelReport> {
    return applyJobCancel(this.store, job, intent, this.now().toISOString());
  }

  /** Queues the marking of the queued jobs with the reconciler; false if that could not be done. */
  private async deferMarking(batch: BatchRecord, intent: CancelIntent): Promise<boolean> {
    try {
      await this.options.reconcileQueue?.requestReconcile(batch, intent);
      return true;
    } catch {
      return false; // mark them within the request instead
    }
  }

  private intent(request: CancelRequest, scope: CancelScope): CancelIntent {
    const now = this.now();
    return {
      cancellationId: request.cancellationId ?? newCancellationId(now),
      mode: request.mode ?? "now",
      ...(request.graceSeconds !== undefined ? { graceSeconds: request.graceSeconds } : {}),
      requestedAt: now.toISOString(),
      by: request.by,
      ...(request.claimedBy ? { claimedBy: request.claimedBy } : {}),
      reason: request.reason ?? DEFAULT_REASON,
      scope,
    };
  }

  /** A batch someone else cancelled: the counts its first cancel recorded, the same for every caller. */
  private async reportCancelled(batch: BatchRecord): Promise<BatchCancelResult> {
    // A large batch is reported from its counts: its names are in the manifest.
    const large = this.isLarge(batch);
    const jobs = large ? [] : await this.store.listJobStates(batch.batchId);
    const summary = await this.partialResultsOf(batch, large ? undefined : jobs);
    const cancelled = jobs.filter((job) => job.status === "cancelled");
    const recorded = batch.cancelSummary;
    const jobsCancelled =
      recorded?.jobsCancelled ?? (large ? (batch.jobCounts?.cancelled ?? 0) : cancelled.length);
    return {
      batchId: batch.batchId,
      status: batch.status === "cancelling" ? "cancelling" : "cancelled",
      batchStatus: batch.status,
      ...(batch.cancel?.cancellationId ? { cancellationId: batch.cancel.cancellationId } : {}),
      mode: stopModeOf(batch.cancel),
      alreadyCancelled: true,
      jobsCancelled,
      jobs: cancelled.map((job) => job.name),
      inCommit: [],
      ...(batch.cancel ? { cancel: batch.cancel } : {}),
      ...summary,
      ...(large ? { manifest: this.results.manifestUri(batch.batchId) } : {}),
      total: recorded?.total ?? (large ? (batch.jobCounts?.total ?? 0) : jobs.length),
    };
  }

  /** A batch answered from its counts, without reading every job. */
  private isLarge(batch: BatchRecord): boolean {
    return (batch.jobCounts?.total ?? 0) >= this.options.manifestThreshold;
  }

  /**
   * The results a cancel answers with, from what DynamoDB holds: the batch's sums and the jobs that
   * have results (their numbers; their outputs are a GET /batches/{id}/results away).
   */
  private async partialResultsOf(batch: BatchRecord, jobs: readonly JobRecord[] | undefined) {
    const summary = this.results.summaryOf(batch);
    // Without every job read (a large batch): the first page of them, and where the rest are.
    const page = jobs
      ? { jobs, nextCursor: undefined }
      : await this.store.listJobsPage(batch.batchId, {
          // A page as GET /results gives it; it pages on from `processedJobsNext`.
          limit: RESULTS_PAGE.defaultJobs,
          processedOnly: true,
        });
    return {
      ...summary,
      partialResults: {
        ...summary.partialResults,
        processedJobs: page.jobs
          .filter((job) => job.numbers?.jobsProcessed === 1)
          .map((job) => ({ jobId: job.jobId, name: job.name, numbers: job.numbers ?? {} })),
        ...(page.nextCursor ? { processedJobsNext: page.nextCursor } : {}),
      },
    };
  }

  /** Polls the batch until the first cancel has recorded what it applied, or the wait runs out. */
  private async waitForFirstCancel(batchId: string): Promise<BatchRecord> {
    const deadline = Date.now() + (this.options.concurrentCancelWaitMs ?? 15_000);
    for (let attempt = 0; ; attempt++) {
      const batch = await this.store.getBatch(batchId);
      if (!batch) throw new BatchNotFoundError(batchId);
      // Stopped from the console: no cancel records a summary.
      const noSummaryComing = batch.cancel?.by === STOPPED_BY.console;
      const endedOtherwise = batch.status !== "cancelling" && batch.status !== "cancelled";
      if (
        batch.cancelSummary ||
        endedOtherwise ||
        (batch.status === "cancelled" && noSummaryComing) ||
        Date.now() >= deadline
      )
        return batch;
      await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 500)));
    }
  }

  private async reportNothingToCancel(batch: BatchRecord): Promise<BatchCancelResult> {
    const large = this.isLarge(batch);
    const jobs = large ? [] : await this.store.listJobStates(batch.batchId);
    const summary = await this.partialResultsOf(batch, large ? undefined : jobs);
    return {
      batchId: batch.batchId,
      status: "no_jobs_to_cancel",
      batchStatus: batch.status,
      jobsCancelled: 0,
      jobs: [],
      inCommit: [],
      ...summary,
      total: large ? (batch.jobCounts?.total ?? 0) : jobs.length,
    };
  }

  /** Waits up to settleMs for running phases to save their partial output; returns those still saving. */
  private async waitForRunningPhases(jobs: readonly JobRecord[]): Promise<JobRecord[]> {
    const deadline = Date.now() + this.options.settleMs;
    let pending = [...jobs];
    while (pending.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const fresh = await mapLimit(pending, this.options.markConcurrency, (job) =>
        this.store.getJob(job.batchId, job.jobId),
      );
      pending = pending.filter((_, i) => {
        const job = fresh[i];
        const phase = job?.wasInPhase ? job.phases[job.wasInPhase] : undefined;
        return phase?.status === "running";
      });
    }
    return pending;
  }
}

/** What a job id looks like (jobIdFor): items that all do are read one by one. */
const JOB_ID = /^job-\d{5,}$/;
/** Up to this many ids are read one by one; more, and every job is read once. */
const READ_BY_ID_LIMIT = 100;

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
