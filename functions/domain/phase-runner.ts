import type { BatchStore } from "./batch-store";
import { JobNotFoundError, PhaseFailedError, PhaseTimeoutError } from "./errors";
import type { JobInput, JobRecord, PhaseRecord } from "./model";
import type { ResultStore } from "./result-store";
import { averageOf, type PageResult, type PhaseOutput } from "./results";

/** What a phase's code receives. It must check `signal` at its safe points and return early. */
export interface PhaseContext {
  readonly batchId: string;
  readonly jobId: string;
  readonly jobName: string;
  readonly phase: string;
  readonly input: JobInput;
  readonly attempt: number;
  readonly signal: AbortSignal;
}

export interface PhaseWorkResult {
  readonly pages: readonly PageResult[];
  /** False when the phase stopped early at a safe point because the signal fired. */
  readonly completed: boolean;
}

export type PhaseWork = (context: PhaseContext) => Promise<PhaseWorkResult>;

export interface PhaseRequest {
  readonly batchId: string;
  readonly jobId: string;
  readonly phase: string;
  /** The last phase commits: it is fenced against cancels and never interrupted. */
  readonly isFinal: boolean;
}

/** Small on purpose: it travels through the state machine. */
export interface PhaseResponse {
  readonly jobId: string;
  readonly phase: string;
  readonly outcome: "continue" | "succeeded" | "cancelled" | "skipped";
}

export interface PhaseRunnerOptions {
  /** How often a running phase re-reads the cancel intent. */
  readonly pollMs: number;
  /** Stop this long before the Lambda times out, to save the partial output first. */
  readonly timeoutMarginMs: number;
  readonly now?: () => Date;
}

/**
 * Runs one phase of one job: checks the cancel intent, claims the job, runs the phase code with
 * an AbortSignal fed by a cancel watcher, saves the output to S3 (also when aborted or failed),
 * and records the outcome with a compare-and-set.
 */
export class PhaseRunner {
  private readonly now: () => Date;

  constructor(
    private readonly store: BatchStore,
    private readonly results: ResultStore,
    private readonly options: PhaseRunnerOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async run(
    request: PhaseRequest,
    work: PhaseWork,
    remainingMs: () => number = () => Number.POSITIVE_INFINITY,
  ): Promise<PhaseResponse> {
    const { batchId, jobId, phase, isFinal } = request;
    const reply = (outcome: PhaseResponse["outcome"]): PhaseResponse => ({ jobId, phase, outcome });
    const [batch, job] = await Promise.all([
      this.store.getBatch(batchId),
      this.store.getJob(batchId, jobId),
    ]);
    if (!job) throw new JobNotFoundError(batchId, jobId);

    // 1. The cancel intent is checked before the phase starts.
    if (job.status === "cancelled") return reply("cancelled");
    if (job.status === "succeeded" || job.status === "failed") return reply("skipped");
    if (batch?.cancel || job.cancel) {
      await this.cancelBeforeStart(job, batch?.cancel ?? job.cancel);
      return reply("cancelled");
    }

    // 2. Claim the job for this phase; entering the final phase raises the commit fence.
    const startedAt = this.now().toISOString();
    const attempt = (job.phases[phase]?.attempt ?? 0) + 1;
    const claim = await this.store.startPhase(batchId, jobId, phase, isFinal, startedAt, attempt);
    if (!claim.won) {
      const current = claim.current;
      if (!current) throw new JobNotFoundError(batchId, jobId);
      if (current.status === "cancelled" || current.cancel) {
        await this.cancelBeforeStart(current, current.cancel);
        return reply("cancelled");
      }
      return reply("skipped");
    }
    if (batch?.status === "queued") await this.store.markBatchRunning(batchId, startedAt);

    // 3. Run the phase code. Non-final phases get a signal that fires on a cancel.
    const controller = new AbortController();
    const watcher = isFinal ? undefined : this.watchCancel(batchId, jobId, controller, remainingMs);
    let result: PhaseWorkResult;
    try {
      result = await work({
        batchId,
        jobId,
        jobName: job.name,
        phase,
        input: job.input,
        attempt,
        signal: controller.signal,
      });
    } catch (error) {
      watcher?.stop();
      if (controller.signal.aborted && controller.signal.reason === CANCELLED) {
        // The code threw because of the abort: that is a stop, not a failure, and never retried.
        return this.finishAborted(request, job, attempt, startedAt, []);
      }
      await this.saveFailure(request, job, attempt, startedAt, error as Error);
      throw new PhaseFailedError(`${phase} failed for ${job.name}: ${(error as Error).message}`);
    }
    watcher?.stop();

    if (!result.completed && controller.signal.reason === TIMED_OUT) {
      await this.saveOutput(request, job, attempt, startedAt, result.pages, "partial");
      throw new PhaseTimeoutError(
        `${phase} for ${job.name} ran out of time after ${result.pages.length} pages`,
      );
    }
    if (!result.completed)
      return this.finishAborted(request, job, attempt, startedAt, result.pages);

    // 4. Save the output, then record the outcome; a cancel that won meanwhile is reported.
    await this.saveOutput(request, job, attempt, startedAt, result.pages, "complete");
    const endedAt = this.now().toISOString();
    const record: PhaseRecord = {
      status: "succeeded",
      startedAt,
      endedAt,
      attempt,
      pages: result.pages.length,
    };
    if (isFinal) {
      const summary = await this.jobSummary(batchId, jobId);
      const done = await this.store.succeedJob(batchId, jobId, phase, record, summary, endedAt);
      return reply(done.won ? "succeeded" : outcomeOf(done.current));
    }
    const advanced = await this.store.completePhase(batchId, jobId, phase, record);
    return reply(advanced.won ? "continue" : outcomeOf(advanced.current));
  }

  /** A cancel found before a phase starts: a queued job, or one between phases, ends cancelled now. */
  private async cancelBeforeStart(job: JobRecord, intent: JobRecord["cancel"]): Promise<void> {
    if (!intent) return;
    const at = this.now().toISOString();
    if (job.status === "queued")
      await this.store.cancelQueuedJob(job.batchId, job.jobId, intent, at);
    else if (job.status === "running")
      await this.store.cancelRunningJob(job.batchId, job.jobId, intent, at, job.phase);
  }

  private async finishAborted(
    request: PhaseRequest,
    job: JobRecord,
    attempt: number,
    startedAt: string,
    pages: readonly PageResult[],
  ): Promise<PhaseResponse> {
    await this.saveOutput(request, job, attempt, startedAt, pages, "partial");
    const endedAt = this.now().toISOString();
    const record: PhaseRecord = {
      status: "aborted",
      startedAt,
      endedAt,
      attempt,
      pages: pages.length,
    };
    await this.store.abortPhase(request.batchId, request.jobId, request.phase, record, endedAt);
    return { jobId: request.jobId, phase: request.phase, outcome: "cancelled" };
  }

  private async saveFailure(
    request: PhaseRequest,
    job: JobRecord,
    attempt: number,
    startedAt: string,
    error: Error,
  ): Promise<void> {
    const endedAt = this.now().toISOString();
    const failure = { name: error.name, message: error.message };
    await this.results.putPhaseOutput({
      ...this.outputBase(request, job, attempt, startedAt),
      endedAt,
      status: "error",
      pages: [],
      error: failure,
    });
    const record: PhaseRecord = {
      status: "failed",
      startedAt,
      endedAt,
      attempt,
      error: error.message,
    };
    await this.store.recordPhaseFailure(request.batchId, request.jobId, request.phase, record);
  }

  private async saveOutput(
    request: PhaseRequest,
    job: JobRecord,
    attempt: number,
    startedAt: string,
    pages: readonly PageResult[],
    status: "complete" | "partial",
  ): Promise<void> {
    await this.results.putPhaseOutput({
      ...this.outputBase(request, job, attempt, startedAt),
      endedAt: this.now().toISOString(),
      status,
      pages,
    });
  }

  private outputBase(
    request: PhaseRequest,
    job: JobRecord,
    attempt: number,
    startedAt: string,
  ): Omit<PhaseOutput, "status" | "pages" | "endedAt"> {
    return {
      batchId: request.batchId,
      jobId: request.jobId,
      jobName: job.name,
      phase: request.phase,
      attempt,
      startedAt,
    };
  }

  /** The job's result once committed: every page of every phase. */
  private async jobSummary(batchId: string, jobId: string) {
    const outputs = await this.results.readJobOutputs(batchId, jobId);
    const scores = outputs.flatMap((o) => o.pages.map((p) => p.score));
    return { pagesProcessed: scores.length, averageScore: averageOf(scores) };
  }

  /**
   * Polls the cancel intent (batch and job records) every `pollMs`, and aborts the signal when it
   * appears, or when the Lambda is about to time out.
   */
  private watchCancel(
    batchId: string,
    jobId: string,
    controller: AbortController,
    remainingMs: () => number,
  ) {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async () => {
      if (stopped) return;
      try {
        if (remainingMs() < this.options.timeoutMarginMs) {
          controller.abort(TIMED_OUT);
          return;
        }
        const [batch, job] = await Promise.all([
          this.store.getBatch(batchId),
          this.store.getJob(batchId, jobId),
        ]);
        if (batch?.cancel || job?.cancel || job?.status === "cancelled") {
          controller.abort(CANCELLED);
          return;
        }
      } catch {
        // A failed poll is retried on the next tick; the phase goes on meanwhile.
      }
      if (!stopped) timer = setTimeout(tick, this.options.pollMs);
    };
    timer = setTimeout(tick, this.options.pollMs);
    return {
      stop: () => {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }
}

const CANCELLED = "cancelled";
const TIMED_OUT = "timed_out";

function outcomeOf(job: JobRecord | undefined): PhaseResponse["outcome"] {
  return job?.status === "cancelled" ? "cancelled" : "skipped";
}
