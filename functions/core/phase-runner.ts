import {
  type AnyPhase,
  type Json,
  PhaseCancelledError,
  type PhaseContext,
  type PhaseLogger,
  type PipelineSummary,
} from "../../sdk/index.ts";
import {
  JobNotFoundError,
  PhaseFailedError,
  PhaseInputInvalidError,
  PhaseTimeoutError,
} from "./errors.ts";
import { applyJobCancel, intentStoppingNextPhase, stopsRunningPhases } from "./job-cancel.ts";
import { type CancelIntent, isBatchTerminal, type JobRecord, type PhaseRecord } from "./model.ts";
import type { BatchStore, CasResult, OutputStore } from "./ports.ts";
import type { Quiescence } from "./quiesce.ts";
import { jobNumbers, type PhaseOutputDocument, type PhaseOutputStatus } from "./results.ts";
import { describeIssues } from "./schemas.ts";
import { batchTransitions, type JobTransition, jobTransitions } from "./transitions.ts";

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

/** What the runner knows of the pipeline: the phase order (for `previous`) and its summary. */
export interface PipelineView {
  readonly phases: readonly string[];
  readonly summary?: PipelineSummary;
}

export interface PhaseRunnerOptions {
  /** How often a running phase re-reads the cancel intent. */
  readonly pollMs: number;
  /** Stop this long before the Lambda times out, to save the partial output first. */
  readonly timeoutMarginMs: number;
  /** Progress is written at most this often. @default 1000 */
  readonly progressEveryMs?: number;
  /** Told when a phase has ended, so a cancelled batch's last straggler quiesces it. */
  readonly quiescence?: Pick<Quiescence, "phaseEnded">;
  /** The structured logger a phase gets, with its keys. @default a silent one */
  readonly logger?: (keys: Record<string, string>) => PhaseLogger;
  readonly now?: () => Date;
}

const silent: PhaseLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** Why the signal fired. */
const CANCELLED = "cancelled";
const TIMED_OUT = "timed_out";

/**
 * Runs one phase of one job: checks the cancel intent, claims the job, gives the phase its
 * context (input, earlier outputs, signal, checkpoint, emit, progress, log), saves its output
 * (also when it stops early or fails), and records the outcome with a compare-and-set.
 */
export class PhaseRunner {
  private readonly now: () => Date;

  constructor(
    private readonly store: BatchStore,
    private readonly outputs: OutputStore,
    private readonly pipeline: PipelineView,
    private readonly options: PhaseRunnerOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async run(
    request: PhaseRequest,
    phase: AnyPhase,
    remainingMs: () => number = () => Number.POSITIVE_INFINITY,
  ): Promise<PhaseResponse> {
    const { batchId, jobId, isFinal } = request;
    const reply = (outcome: PhaseResponse["outcome"]): PhaseResponse => ({
      jobId,
      phase: request.phase,
      outcome,
    });
    const [batch, job] = await Promise.all([
      this.store.getBatch(batchId),
      this.store.getJob(batchId, jobId),
    ]);
    if (!job) throw new JobNotFoundError(batchId, jobId);

    // 1. The cancel intent is checked before the phase starts.
    if (job.status === "cancelled") return reply("cancelled");
    if (job.status === "succeeded" || job.status === "failed") return reply("skipped");
    // A phase this job finished (in an earlier run of its batch, or before a retried invocation)
    // is not run again.
    if (!isFinal && job.phases[request.phase]?.status === "succeeded") return reply("continue");
    const stopping = intentStoppingNextPhase(job, batch?.cancel);
    if (stopping) {
      await this.cancelBeforeStart(job, stopping);
      return reply("cancelled");
    }
    const input = parseInput(phase, request.phase, job);

    // 2. Claim the job for this phase; entering the final phase raises the commit fence.
    const startedAt = this.now().toISOString();
    const attempt = (job.phases[request.phase]?.attempt ?? 0) + 1;
    const claim = await this.store.transitionJob(
      batchId,
      jobId,
      jobTransitions.startPhase(request.phase, isFinal, startedAt, attempt),
    );
    if (!claim.won) {
      const current = claim.current;
      if (!current) throw new JobNotFoundError(batchId, jobId);
      if (current.status === "cancelled" || current.cancel) {
        await this.cancelBeforeStart(current, current.cancel);
        return reply("cancelled");
      }
      return reply("skipped");
    }
    if (batch?.status === "queued")
      await this.store.transitionBatch(batchId, batchTransitions.markRunning(startedAt));

    // 3. What the phase reads: the outputs of earlier phases and its last checkpoint.
    const index = this.pipeline.phases.indexOf(request.phase);
    const earlier = index > 0 ? this.pipeline.phases.slice(0, index) : [];
    const [previous, saved] = await Promise.all([
      this.outputs.readOutputs(
        batchId,
        jobId,
        earlier.filter((name) => job.phases[name]),
      ),
      // A phase that never started before (no record of it on the job) has saved no checkpoint.
      job.phases[request.phase]
        ? this.outputs.getCheckpoint(batchId, jobId, request.phase)
        : undefined,
    ]);

    // 4. Run it. Non-final phases get a signal that fires on a cancel; every phase's fires
    // shortly before its time runs out, so it can save what it has.
    const controller = new AbortController();
    const watcher = this.watch(batchId, jobId, controller, remainingMs, !isFinal);
    const run = new RunState(job, request.phase, this.store, this.outputs, this.options, {
      index: Math.max(0, index),
      of: Math.max(1, this.pipeline.phases.length),
    });
    const context: PhaseContext<unknown, Json> = {
      input,
      job: { batchId, jobId, name: job.name, attempt },
      phase: request.phase,
      signal: controller.signal,
      throwIfCancelled: () => {
        if (controller.signal.aborted) throw new PhaseCancelledError(stopMessage(controller));
      },
      previous: Object.fromEntries(previous.map((o) => [o.phase, o.output])),
      outputOf: <T>(name: string): T => {
        const found = previous.find((o) => o.phase === name);
        if (!found)
          throw new Error(
            `no output of phase '${name}' for job ${job.name}: ${
              earlier.includes(name)
                ? "it has not produced one"
                : `it is not an earlier phase of ${request.phase}`
            }`,
          );
        return found.output as T;
      },
      checkpoint: saved?.checkpoint as Json | undefined,
      save: (checkpoint) => run.save(checkpoint, attempt),
      emit: (items) => run.emit(items),
      progress: (done, total) => run.progress(done, total),
      log: this.options.logger?.({ batchId, jobId, job: job.name, phase: request.phase }) ?? silent,
    };

    const base = { batchId, jobId, jobName: job.name, phase: request.phase, attempt, startedAt };
    let output: unknown;
    try {
      output = await phase.run(context);
      await run.settle(); // a checkpoint or item write that failed fails the phase
    } catch (error) {
      await run.settle().catch(() => undefined);
      watcher.stop();
      if (controller.signal.aborted) {
        // Thrown because of the signal: a stop, not a failure.
        return this.stopped(request, job, base, null, controller, previous, run);
      }
      const failure = { name: (error as Error).name, message: (error as Error).message };
      await this.outputs.putOutput({
        ...base,
        status: "error",
        endedAt: this.now().toISOString(),
        output: null,
        error: failure,
      });
      const numbers = this.numbersOf(job, previous, request.phase, null, run);
      await this.recordFailedAttempt(request, job, base, numbers, run, failure.message);
      throw new PhaseFailedError(`${request.phase} failed for ${job.name}: ${failure.message}`);
    }
    watcher.stop();
    if (controller.signal.aborted)
      return this.stopped(request, job, base, output, controller, previous, run);

    // 5. Save the output, then record the outcome; a cancel that won meanwhile is reported.
    const endedAt = this.now().toISOString();
    await this.outputs.putOutput({ ...base, status: "complete", endedAt, output: output ?? null });
    const record: PhaseRecord = {
      status: "succeeded",
      startedAt,
      endedAt,
      attempt,
      items: run.itemsOfPhase,
    };
    const numbers = this.numbersOf(job, previous, request.phase, output, run);
    const done = await this.recordEnd(
      request,
      job,
      isFinal
        ? jobTransitions.succeed(request.phase, record, numbers, endedAt)
        : jobTransitions.completePhase(request.phase, record, numbers),
      numbers,
      endedAt,
    );
    if (!done.won) return reply(outcomeOf(done.current));
    return reply(isFinal ? "succeeded" : "continue");
  }

  /** The phase stopped early: on a cancel it ends the job; on a timeout it is retried from its checkpoint. */
  private async stopped(
    request: PhaseRequest,
    job: JobRecord,
    base: Omit<PhaseOutputDocument, "status" | "endedAt" | "output">,
    output: unknown,
    controller: AbortController,
    previous: readonly PhaseOutputDocument[],
    run: RunState,
  ): Promise<PhaseResponse> {
    const endedAt = this.now().toISOString();
    const late = controller.signal.reason === CANCELLED && (await this.pastGrace(job, endedAt));
    await this.outputs.putOutput({
      ...base,
      status: late ? "late" : "partial",
      endedAt,
      output: output ?? null,
    });
    // A late output is kept, and never counted: the job's numbers stay as they were without it.
    const numbers = this.numbersOf(job, previous, request.phase, late ? null : output, run);
    if (controller.signal.reason === TIMED_OUT) {
      await this.recordFailedAttempt(
        request,
        job,
        base,
        numbers,
        run,
        "ran out of time; its partial output and checkpoint are kept",
      );
      throw new PhaseTimeoutError(
        `${request.phase} for ${job.name} ran out of time; it is retried from its last checkpoint`,
      );
    }
    const record: PhaseRecord = {
      status: "aborted",
      startedAt: base.startedAt,
      endedAt,
      attempt: base.attempt,
      items: run.itemsOfPhase,
    };
    await this.recordEnd(
      request,
      job,
      jobTransitions.abortPhase(request.phase, record, numbers, endedAt),
      numbers,
      endedAt,
    );
    return { jobId: request.jobId, phase: request.phase, outcome: "cancelled" };
  }

  /** A failed attempt of the phase: the state machine retries it, from its checkpoint. */
  private recordFailedAttempt(
    request: PhaseRequest,
    job: JobRecord,
    base: { readonly startedAt: string; readonly attempt: number },
    numbers: Record<string, number>,
    run: RunState,
    error: string,
  ): Promise<CasResult<JobRecord>> {
    const endedAt = this.now().toISOString();
    const record: PhaseRecord = {
      status: "failed",
      startedAt: base.startedAt,
      endedAt,
      attempt: base.attempt,
      items: run.itemsOfPhase,
      error,
    };
    return this.recordEnd(
      request,
      job,
      jobTransitions.recordPhaseFailure(request.phase, record, numbers),
      numbers,
      endedAt,
    );
  }

  /**
   * Writes how the phase ended on the job, with the job's numbers. What changed in them is added
   * to the batch's sums first, while the phase still shows as running: a reconcile recomputes the
   * sums only when no phase runs, so it never counts them twice. If a cancel ended the job
   * meanwhile, the phase's record and numbers are written on the cancelled job all the same; if
   * the job ended otherwise, what was added is taken back.
   *
   * A final phase that failed in a batch whose execution was stopped gets no retry: its job ends
   * failed (the one job-cancel decision says so) instead of running for ever.
   */
  private async recordEnd(
    request: PhaseRequest,
    job: JobRecord,
    transition: JobTransition,
    numbers: Record<string, number>,
    endedAt: string,
  ): Promise<CasResult<JobRecord>> {
    const { batchId, jobId } = request;
    await this.store.addToTotals(batchId, job.numbers, numbers);
    const cas = await this.store.transitionJob(batchId, jobId, transition);
    if (cas.won) {
      if (request.isFinal && cas.record.status === "running") await this.endIfStopped(cas.record);
      await this.tellQuiescence(request, cas.record);
      return cas;
    }
    const kept =
      cas.current?.status === "cancelled" && transition.phase
        ? await this.store.transitionJob(
            batchId,
            jobId,
            jobTransitions.abortPhase(request.phase, transition.phase.record, numbers, endedAt),
          )
        : undefined;
    if (!kept?.won) await this.store.addToTotals(batchId, numbers, job.numbers ?? {});
    await this.tellQuiescence(request, cas.current);
    return cas;
  }

  /**
   * A phase that ended may be a cancelled batch's last straggler. A job still running outside its
   * final phase with no cancel intent cannot be one (a cancel marks such a job before its batch
   * records stragglers), so the normal path reads nothing more.
   */
  private async tellQuiescence(request: PhaseRequest, job: JobRecord | undefined): Promise<void> {
    if (request.isFinal || job?.cancel || job?.status !== "running")
      await this.options.quiescence?.phaseEnded(request.batchId, request.jobId);
  }

  /** A failed final phase: if the batch's execution was stopped, no retry comes to finish it. */
  private async endIfStopped(job: JobRecord): Promise<void> {
    const batch = await this.store.getBatch(job.batchId);
    // Stopped: by a `now` cancel (StopExecution), or ended (the reconciler has seen the stop).
    const stopped = stopsRunningPhases(batch?.cancel) || (batch && isBatchTerminal(batch.status));
    if (batch?.cancel && stopped)
      await applyJobCancel(this.store, job, batch.cancel, this.now().toISOString(), {
        executionStopped: true,
      });
  }

  /** Whether the cancel that stopped this phase gave it a grace that had run out by `at`. */
  private async pastGrace(job: JobRecord, at: string): Promise<boolean> {
    const [current, batch] = await Promise.all([
      this.store.getJob(job.batchId, job.jobId),
      this.store.getBatch(job.batchId),
    ]);
    const intent = current?.cancel ?? batch?.cancel;
    if (intent?.graceSeconds === undefined) return false;
    return Date.parse(at) > Date.parse(intent.requestedAt) + intent.graceSeconds * 1000;
  }

  /** The job's numbers for the batch's sums, from every output it has now. */
  private numbersOf(
    job: JobRecord,
    previous: readonly PhaseOutputDocument[],
    phase: string,
    output: unknown,
    run: RunState,
  ): Record<string, number> {
    const outputs: Record<string, unknown> = {};
    for (const earlier of previous) outputs[earlier.phase] = earlier.output;
    outputs[phase] = output ?? null;
    return jobNumbers(
      { jobId: job.jobId, name: job.name, outputs, items: run.itemCounts },
      this.pipeline.summary,
    );
  }

  /** A cancel found before a phase starts: a queued job, or one between phases, ends cancelled now. */
  private async cancelBeforeStart(job: JobRecord, intent: CancelIntent | undefined): Promise<void> {
    if (intent)
      await applyJobCancel(this.store, job, intent, this.now().toISOString(), {
        betweenPhases: true,
      });
  }

  /**
   * Polls the batch's cancel signal every `pollMs` and, when it was raised, the cancel intent (batch
   * and job records); aborts the signal when an intent stops the phase (if `onCancel`), or when the
   * Lambda is about to time out.
   */
  private watch(
    batchId: string,
    jobId: string,
    controller: AbortController,
    remainingMs: () => number,
    onCancel: boolean,
  ) {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    /** The signal as of the last poll; undefined before the first. */
    let seen: number | undefined;
    const tick = async () => {
      if (stopped) return;
      try {
        if (remainingMs() < this.options.timeoutMarginMs) {
          controller.abort(TIMED_OUT);
          return;
        }
        // Half a read unit a poll: the batch's cancel signal, eventually consistent. Only when it
        // was raised since the last look (or ever, at the first) are the records read, strongly.
        if (onCancel) {
          const raised = await this.store.readCancelSignal(batchId);
          if (raised !== seen && (seen !== undefined || raised > 0)) {
            const [batch, job] = await Promise.all([
              this.store.getBatch(batchId),
              this.store.getJob(batchId, jobId),
            ]);
            // Only a `now` cancel stops a running phase; `drain` and `after-phase` let it end.
            if (
              stopsRunningPhases(batch?.cancel) ||
              stopsRunningPhases(job?.cancel) ||
              job?.status === "cancelled"
            ) {
              controller.abort(CANCELLED);
              return;
            }
          }
          seen = raised;
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

/**
 * What one run of a phase writes while it runs: checkpoints and item chunks, each durable before
 * its promise resolves and written in the order they were asked for; progress, at most once per
 * `progressEveryMs`.
 */
class RunState {
  /** Items of each phase of the job, this run's included. */
  readonly itemCounts: Record<string, number>;
  itemsOfPhase = 0;
  private writes: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private lastProgressAt = 0;
  private pendingProgress: { done: number; total?: number } | undefined;
  private progressTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly job: JobRecord,
    private readonly phase: string,
    private readonly store: BatchStore,
    private readonly outputs: OutputStore,
    private readonly options: PhaseRunnerOptions,
    private readonly step: { readonly index: number; readonly of: number },
  ) {
    this.itemCounts = { ...job.itemCounts };
    this.itemsOfPhase = job.itemCounts?.[phase] ?? 0;
  }

  save(checkpoint: unknown, attempt: number): Promise<void> {
    return this.enqueue(() =>
      this.outputs.putCheckpoint(this.job.batchId, this.job.jobId, this.phase, {
        savedAt: new Date().toISOString(),
        attempt,
        checkpoint,
      }),
    );
  }

  emit(items: readonly unknown[]): Promise<void> {
    if (!Array.isArray(items)) return Promise.reject(new TypeError("emit takes an array of items"));
    if (items.length === 0) return Promise.resolve();
    const copy = JSON.parse(JSON.stringify(items)) as unknown[];
    return this.enqueue(async () => {
      const chunk = await this.store.reserveItemChunk(
        this.job.batchId,
        this.job.jobId,
        this.phase,
        copy.length,
      );
      await this.outputs.putItems(this.job.batchId, this.job.jobId, this.phase, chunk, copy);
      this.itemsOfPhase += copy.length;
      this.itemCounts[this.phase] = this.itemsOfPhase;
    });
  }

  progress(done: number, total?: number): void {
    if (!Number.isFinite(done) || (total !== undefined && !Number.isFinite(total))) return;
    this.pendingProgress = total === undefined ? { done } : { done, total };
    const every = this.options.progressEveryMs ?? 1000;
    const wait = this.lastProgressAt + every - Date.now();
    if (wait <= 0) this.flushProgress();
    else this.progressTimer ??= setTimeout(() => this.flushProgress(), wait);
  }

  /** Waits for every write asked for so far, and throws the first that failed (it fails the phase). */
  async settle(): Promise<void> {
    clearTimeout(this.progressTimer);
    await this.writes;
    if (this.failure) throw this.failure;
  }

  private flushProgress(): void {
    this.progressTimer = undefined;
    const pending = this.pendingProgress;
    if (!pending) return;
    this.pendingProgress = undefined;
    this.lastProgressAt = Date.now();
    const within =
      pending.total && pending.total > 0
        ? Math.min(1, Math.max(0, pending.done / pending.total))
        : 0;
    void this.store
      .transitionJob(
        this.job.batchId,
        this.job.jobId,
        jobTransitions.setProgress({
          phase: this.phase,
          ...pending,
          jobFraction: (this.step.index + within) / this.step.of,
          at: new Date().toISOString(),
        }),
      )
      .catch(() => undefined); // progress is advisory: never fail a phase for it
  }

  private enqueue(write: () => Promise<void>): Promise<void> {
    const next = this.writes.then(write);
    // Kept for settle(), so a write the phase did not await still fails it (and is never an
    // unhandled rejection); the phase awaiting `next` gets the error too.
    this.writes = next.catch((error: unknown) => {
      this.failure ??= error instanceof Error ? error : new Error(String(error));
    });
    return next;
  }
}

function parseInput(phase: AnyPhase, name: string, job: JobRecord): unknown {
  if (!phase.input) return job.input;
  const parsed = phase.input.safeParse(job.input);
  if (parsed.success) return parsed.data;
  throw new PhaseInputInvalidError(
    `${name}: the input of ${job.name} does not fit this phase: ${describeIssues(parsed.error.issues)}`,
  );
}

function stopMessage(controller: AbortController): string {
  return controller.signal.reason === TIMED_OUT
    ? "the phase is about to run out of time"
    : "the job was cancelled";
}

function outcomeOf(job: JobRecord | undefined): PhaseResponse["outcome"] {
  return job?.status === "cancelled" ? "cancelled" : "skipped";
}

export type { PhaseOutputStatus };
