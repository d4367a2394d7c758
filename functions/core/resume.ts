/**
 * Resume: the cancelled jobs of an ended batch run again, in a new execution of the same batch.
 * A job starts again at the phase it stopped in, from that phase's last checkpoint (the phase
 * runner passes over the phases it finished); a job that succeeded or failed never runs again.
 */
import { mapLimit } from "./concurrency.ts";
import { BatchNotFoundError, BatchNotResumableError, ExecutionStartError } from "./errors.ts";
import { executionNameOf } from "./execution.ts";
import {
  type BatchRecord,
  type BatchRun,
  hasRunningPhase,
  isBatchTerminal,
  type JobRecord,
  jobFinder,
  runOf,
  runsOf,
} from "./model.ts";
import type { BatchStore, ExecutionEngine } from "./ports.ts";
import type { ExecutionInput } from "./submit.ts";
import { batchTransitions, jobTransitions } from "./transitions.ts";

/** A batch is resumed at most this many times: each run is an execution, kept in its history. */
export const MAX_RUNS = 20;

export interface ResumeRequest {
  /** Who resumes, as authenticated. */
  readonly by: string;
  readonly claimedBy?: string;
  readonly reason?: string;
  /** The jobs to run again, by id or name. @default every cancelled job */
  readonly jobs?: readonly string[];
}

export interface ResumedJobReport {
  readonly jobId: string;
  readonly name: string;
  /** The phase it was in when it stopped (it starts there again), or null if it never started. */
  readonly stoppedIn: string | null;
  /** Phases it finished before it stopped: they are not run again. */
  readonly phasesDone: readonly string[];
}

export interface ResumeResult {
  readonly batchId: string;
  readonly run: number;
  readonly executionArn: string;
  readonly jobs: readonly ResumedJobReport[];
  readonly runs: readonly BatchRun[];
  /** True when this request finished a resume an earlier request began and could not complete. */
  readonly completedEarlierResume?: boolean;
}

export class ResumeService {
  constructor(
    private readonly store: BatchStore,
    private readonly engine: ExecutionEngine,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async resume(batchId: string, request: ResumeRequest): Promise<ResumeResult> {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    const jobs = await this.store.listJobs(batchId);
    if (await this.startWasCutShort(batch))
      return this.start(batch, this.choose(batch, jobs, request, runOf(batch)), request, true);

    if (!isBatchTerminal(batch.status))
      throw new BatchNotResumableError(
        `batch ${batchId} is ${batch.status}; resume it once it has ended${batch.status === "cancelling" ? " (it is still stopping)" : ""}`,
        { status: batch.status },
      );
    // The cancel may still be marking queued jobs (a large batch's are marked by the reconciler).
    const unmarked = jobs.filter((job) => job.status === "queued" || job.status === "running");
    if (unmarked.length > 0)
      throw new BatchNotResumableError(
        `${unmarked.length} job(s) of batch ${batchId} are still being ended by its last run (${describe(unmarked)}); try again in a moment`,
        { stillEnding: unmarked.length },
      );
    // A phase that ignored its cancel may still be running: run again now, it would run twice.
    const stopping = jobs.filter(hasRunningPhase);
    if (stopping.length > 0)
      throw new BatchNotResumableError(
        `${stopping.length} job(s) of batch ${batchId} still have a phase running from the last run (${describe(stopping)}); resume once the batch has quiesced`,
        { stillRunning: stopping.map((job) => job.jobId) },
      );
    const run = runOf(batch) + 1;
    if (run > MAX_RUNS)
      throw new BatchNotResumableError(
        `batch ${batchId} has run ${MAX_RUNS} times, the most it may; submit its jobs as a new batch`,
      );
    const chosen = this.choose(batch, jobs, request, run);

    const at = this.now().toISOString();
    // The batch has ended, so its last run is closed with how it ended.
    const runs: BatchRun[] = [
      ...runsOf(batch),
      {
        run,
        executionArn: this.engine.executionArnOf(executionNameOf(batchId, run)),
        startedAt: at,
        jobs: chosen.length,
        by: request.by,
        ...(request.claimedBy ? { claimedBy: request.claimedBy } : {}),
        ...(request.reason ? { reason: request.reason } : {}),
      },
    ];
    const claim = await this.store.transitionBatch(batchId, batchTransitions.resume(runs));
    if (!claim.won)
      throw new BatchNotResumableError(
        `batch ${batchId} changed while it was being resumed (it is ${claim.current?.status ?? "gone"}); look at it again before resuming`,
      );
    return this.start(claim.record, chosen, request, false);
  }

  /**
   * The jobs to run again: those named (each must be cancelled), or every cancelled job; in a
   * resume an earlier request began, those it queued already count too.
   */
  private choose(
    batch: BatchRecord,
    jobs: readonly JobRecord[],
    request: ResumeRequest,
    run: number,
  ): JobRecord[] {
    const resumable = (job: JobRecord) =>
      job.status === "cancelled" || (job.status === "queued" && job.run === run);
    if (!request.jobs) {
      const all = jobs.filter(resumable);
      if (all.length === 0)
        throw new BatchNotResumableError(
          `batch ${batch.batchId} has no cancelled job to resume: jobs that succeeded or failed never run again`,
        );
      return all;
    }
    const find = jobFinder(jobs);
    const chosen = new Map<string, JobRecord>();
    const refused: string[] = [];
    for (const item of new Set(request.jobs)) {
      const job = find(item);
      if (!job) refused.push(`'${item}' is not a job of this batch`);
      else if (!resumable(job))
        refused.push(
          `${job.name} (${job.jobId}) ${job.status === "succeeded" ? "succeeded, and a job that succeeded never runs again" : `is ${job.status}; only cancelled jobs are resumed`}`,
        );
      else chosen.set(job.jobId, job);
    }
    if (refused.length > 0)
      throw new BatchNotResumableError(`nothing was resumed: ${refused.join("; ")}`, {
        refused: refused.length,
      });
    return [...chosen.values()];
  }

  /** The batch says a resume began (queued, in a later run) but its execution never started. */
  private async startWasCutShort(batch: BatchRecord): Promise<boolean> {
    if (batch.status !== "queued" || runOf(batch) < 2) return false;
    return !(await this.engine.describeExecution(batch.executionArn));
  }

  /** Queues the chosen jobs in the batch's new run and starts its execution. */
  private async start(
    batch: BatchRecord,
    chosen: readonly JobRecord[],
    request: ResumeRequest,
    completedEarlierResume: boolean,
  ): Promise<ResumeResult> {
    const run = runOf(batch);
    await mapLimit(chosen, 16, async (job) => {
      if (job.status !== "cancelled") return;
      await this.store.transitionJob(
        batch.batchId,
        job.jobId,
        jobTransitions.resume(run, {
          run: job.run ?? 1,
          status: job.status,
          phases: job.phases,
          ...(job.cancel ? { cancel: job.cancel } : {}),
          ...(job.wasInPhase ? { wasInPhase: job.wasInPhase } : {}),
          ...(job.endedAt ? { endedAt: job.endedAt } : {}),
        }),
      );
    });
    const input: ExecutionInput = {
      batchId: batch.batchId,
      concurrency: batch.concurrency,
      jobs: chosen.map((job) => ({ jobId: job.jobId })),
    };
    try {
      await this.engine.startExecution(executionNameOf(batch.batchId, run), input);
    } catch (error) {
      // Nothing half-done: the run is recorded as failed to start, and its jobs with it.
      const cause = { name: (error as Error).name, message: (error as Error).message };
      const at = this.now().toISOString();
      await this.store.transitionBatch(batch.batchId, batchTransitions.finish("failed", at, cause));
      for (const job of chosen)
        await this.store.transitionJob(batch.batchId, job.jobId, jobTransitions.fail(cause, at));
      throw new ExecutionStartError(
        `run ${run} of batch ${batch.batchId} could not be started: ${cause.message}`,
        { batchId: batch.batchId },
      );
    }
    await this.store.appendAudit(batch.batchId, {
      at: this.now().toISOString(),
      action: "resume",
      by: request.by,
      ...(request.claimedBy ? { claimedBy: request.claimedBy } : {}),
      ...(request.reason ? { reason: request.reason } : {}),
      detail: { run, jobs: chosen.length, executionArn: batch.executionArn },
    });
    return {
      batchId: batch.batchId,
      run,
      executionArn: batch.executionArn,
      jobs: chosen.map((job) => ({
        jobId: job.jobId,
        name: job.name,
        stoppedIn: (job.wasInPhase ?? job.resumedFrom?.wasInPhase) || null,
        phasesDone: Object.entries(job.phases)
          .filter(([, phase]) => phase.status === "succeeded")
          .map(([name]) => name),
      })),
      runs: runsOf(batch),
      ...(completedEarlierResume ? { completedEarlierResume } : {}),
    };
  }
}

function describe(jobs: readonly JobRecord[]): string {
  const names = jobs.slice(0, 5).map((job) => job.name);
  return jobs.length > 5 ? `${names.join(", ")} and ${jobs.length - 5} more` : names.join(", ");
}
