/**
 * A whole batch's life played out against the in-memory ports, with fast-check's scheduler
 * choosing the order: every call to the batch store, the output store, the execution engine and
 * the reconcile queue waits for the scheduler twice (before it lands and before its caller hears
 * back), and so does every step of the phases' own work. The execution is simulated as Step
 * Functions runs it (infra/constructs/batch-workflow.ts): a Map over the jobs at the batch's
 * concurrency, each job's phases in order, a phase retried on failure then "Record job failure",
 * an iteration ended by a "cancelled" or "skipped" outcome, then "Finalize batch". A stop (a
 * stepbatch cancel, or the console) ends the execution: nothing new starts, what runs goes on, and
 * the ABORTED status change reaches the reconciler (once or more). Timers are vitest's fake ones,
 * advanced by a clock that is itself a scheduled task, so a phase's cancel poll fires wherever the
 * scheduler puts it, and a run replays exactly from its seed.
 */
import fc from "fast-check";
import { vi } from "vitest";
import type { BatchCancelResult, SubsetCancelResult } from "../../functions/core/cancel.ts";
import {
  JobAlreadyFinishedError,
  JobInCommitError,
  PhaseFailedError,
} from "../../functions/core/errors.ts";
import { cancelledExecution, type ExecutionStatusChange } from "../../functions/core/execution.ts";
import type { BatchRecord, CancelIntent } from "../../functions/core/model.ts";
import type { ExecutionInput } from "../../functions/core/submit.ts";
import { jobIdFor } from "../../functions/core/submit.ts";
import { type AnyPhase, definePhase } from "../../sdk/index.ts";
import { wireCore } from "./core-services.ts";
import {
  MemoryBatchStore,
  MemoryOutputStore,
  MemoryReconcileQueue,
  RecordingEngine,
} from "./memory-ports.ts";

/** What one attempt of one phase of one job does. */
export type PhaseStep =
  /** Emits `items` items (one at a time), then returns: it never looks at its signal. */
  | { readonly kind: "succeed"; readonly items: number }
  /** Emits `items` items, then throws: the attempt fails and is retried, or the job fails. */
  | { readonly kind: "fail"; readonly items: number }
  /**
   * Emits up to `items` items, checking its signal before each (its safe points); on a cancel it
   * returns what it has, or throws PhaseCancelled (`throwIfCancelled`).
   */
  | { readonly kind: "work"; readonly items: number; readonly onCancel: "return" | "throw" };

/** Who acts on the batch once its submit has answered, each after `after` scheduler steps. */
export type Actor =
  | { readonly kind: "cancelBatch"; readonly after: number }
  | {
      readonly kind: "cancelJobs";
      readonly after: number;
      /** Jobs by index, each named by its id or its name. */
      readonly targets: readonly { readonly job: number; readonly byName: boolean }[];
    }
  | { readonly kind: "cancelJob"; readonly after: number; readonly job: number }
  /** A stop from the Step Functions console: an error other than BatchCancelled. */
  | { readonly kind: "consoleStop"; readonly after: number; readonly error: string };

export interface Scenario {
  /** The pipeline's phases; the last one commits. */
  readonly phases: readonly string[];
  /** Attempts after the first for a phase that fails. */
  readonly retries: number;
  readonly concurrency: number;
  /** Per job, per phase, per attempt: what it does (attempts beyond the list succeed). */
  readonly jobs: readonly (readonly (readonly PhaseStep[])[])[];
  readonly actors: readonly Actor[];
  /** How many times the ABORTED status change is delivered, and after how many steps each. */
  readonly abortedEvents: readonly number[];
  /** Whether a batch cancel hands the queued jobs to the reconciler (its SQS queue). */
  readonly deferMarking: boolean;
  /** Whether the SUCCEEDED status change of an execution that finished reaches the reconciler. */
  readonly succeededEvent: boolean;
  /**
   * Whether the submit is sent with an Idempotency-Key and repeated (a client's retry), the repeat
   * after this many steps.
   */
  readonly replaySubmit: number | undefined;
}

const JOB_NAMES = ["alpha", "bravo", "charlie", "delta"] as const;
const PIPELINES = [
  ["Ingest", "Commit"],
  ["Ingest", "Digest", "Commit"],
] as const;

const step: fc.Arbitrary<PhaseStep> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("succeed"), items: fc.nat(2) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("fail"), items: fc.nat(2) }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant("work"),
      items: fc.integer({ min: 1, max: 8 }),
      onCancel: fc.constantFrom("return", "throw"),
    }),
    weight: 3,
  },
) as fc.Arbitrary<PhaseStep>;

const delay = fc.nat(40);

/** Batches of 1 to 4 jobs over 2 or 3 phases, and up to 4 actors racing their execution. */
export const scenarios: fc.Arbitrary<Scenario> = fc
  .record({
    pipeline: fc.constantFrom(...PIPELINES),
    jobCount: fc.integer({ min: 1, max: JOB_NAMES.length }),
    retries: fc.nat(2),
    concurrency: fc.integer({ min: 1, max: JOB_NAMES.length }),
    abortedEvents: fc.array(delay, { minLength: 1, maxLength: 2 }),
    deferMarking: fc.boolean(),
    succeededEvent: fc.boolean(),
    replaySubmit: fc.option(delay, { nil: undefined }),
  })
  .chain(({ pipeline, jobCount, ...rest }) =>
    fc.record({
      phases: fc.constant(pipeline),
      jobs: fc.array(
        fc.array(fc.array(step, { maxLength: 3 }), {
          minLength: pipeline.length,
          maxLength: pipeline.length,
        }),
        { minLength: jobCount, maxLength: jobCount },
      ),
      actors: fc.array(actor(jobCount), { maxLength: 4 }),
      retries: fc.constant(rest.retries),
      concurrency: fc.constant(rest.concurrency),
      abortedEvents: fc.constant(rest.abortedEvents),
      deferMarking: fc.constant(rest.deferMarking),
      succeededEvent: fc.constant(rest.succeededEvent),
      replaySubmit: fc.constant(rest.replaySubmit),
    }),
  );

function actor(jobCount: number): fc.Arbitrary<Actor> {
  const job = fc.nat(jobCount - 1);
  return fc.oneof(
    fc.record({ kind: fc.constant("cancelBatch"), after: delay }),
    fc.record({
      kind: fc.constant("cancelJobs"),
      after: delay,
      targets: fc.array(fc.record({ job, byName: fc.boolean() }), {
        minLength: 1,
        maxLength: jobCount,
      }),
    }),
    fc.record({ kind: fc.constant("cancelJob"), after: delay, job }),
    fc.record({
      kind: fc.constant("consoleStop"),
      after: delay,
      error: fc.constantFrom("", "States.Aborted"),
    }),
  ) as fc.Arbitrary<Actor>;
}

/** What a cancel of one job answered: cancelled, or one of its 409s. */
export type JobAnswer = "cancelled" | "already_finished" | "in_commit";

/** What a cancel answered its caller. */
export type Answer =
  | { readonly actor: string; readonly kind: "batch"; readonly result: BatchCancelResult }
  | { readonly actor: string; readonly kind: "jobs"; readonly result: SubsetCancelResult }
  | {
      readonly actor: string;
      readonly kind: "job";
      readonly jobId: string;
      readonly outcome: JobAnswer;
    };

/** What happened, for the properties to judge. */
export interface Interleaving {
  readonly batchId: string;
  /** The stores themselves (not the scheduled views): their records and transition history. */
  readonly store: MemoryBatchStore;
  readonly outputs: MemoryOutputStore;
  /** Every item whose emit resolved, with the job and phase that emitted it. */
  readonly emitted: readonly {
    readonly jobId: string;
    readonly phase: string;
    readonly item: string;
  }[];
  /** How the execution ended, and whether its stop came before "Finalize batch" began. */
  readonly execution: "running" | "succeeded" | "aborted";
  readonly abortedBeforeFinalize: boolean;
  /** The batch id each submit answered with. */
  readonly submitted: readonly string[];
  /** What each cancel answered, in the order the answers came. */
  readonly answers: readonly Answer[];
  /** Errors no actor should have met (an expected 409 of a job cancel is not one). */
  readonly errors: readonly { readonly actor: string; readonly error: unknown }[];
}

/** Ticks of the clock after which a run is declared stuck. */
const MAX_TICKS = 20_000;

/** Plays `scenario` out with `s` deciding the order; resolves once every actor has finished. */
export async function playInterleaving(s: fc.Scheduler, scenario: Scenario): Promise<Interleaving> {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    return await play(s, scenario);
  } finally {
    vi.useRealTimers();
  }
}

async function play(s: fc.Scheduler, scenario: Scenario): Promise<Interleaving> {
  const actors: Promise<void>[] = [];
  const submitted: string[] = [];
  const answers: Answer[] = [];
  const errors: { actor: string; error: unknown }[] = [];
  const spawn = (name: string, work: () => Promise<void>) => {
    actors.push(work().catch((error: unknown) => void errors.push({ actor: name, error })));
  };
  const pause = async (steps: number, label: string) => {
    for (let i = 0; i < steps; i++) await s.schedule(Promise.resolve(), label);
  };

  // The world: stores, the execution engine and the reconcile queue, each call scheduled.
  const store = new MemoryBatchStore();
  const outputs = new MemoryOutputStore();
  let batchId = "";
  let execution: Interleaving["execution"] = "running";
  let started = false;
  let finalizeStarted = false;
  let abortedBeforeFinalize = false;
  const engine = new SimulatedEngine({
    onStart: (input) => {
      if (started) return;
      started = true;
      batchId = input.batchId;
      spawn("execution", () => runExecution(input));
    },
    onStop: (executionArn, error, cause) => {
      if (!started || execution !== "running") return; // an execution that ended: nothing to stop
      execution = "aborted";
      abortedBeforeFinalize = !finalizeStarted;
      const change: ExecutionStatusChange = {
        executionArn,
        name: batchId,
        status: "ABORTED",
        stopDate: Date.now(),
        error,
        cause,
      };
      engine.ended.set(executionArn, change);
      for (const [index, after] of scenario.abortedEvents.entries())
        spawn(`reconcile ABORTED #${index + 1}`, async () => {
          await pause(after, "event delivery");
          await core.reconciler.reconcile(change);
        });
    },
  });
  const queue = new DeliveringQueue((batch, intent) =>
    spawn("reconcile deferred marking", async () => {
      await pause(1, "queue delivery");
      await core.reconciler.reconcile(cancelledExecution(batch, intent));
    }),
  );
  const core = wireCore(
    {
      store: scheduled(s, store, "store"),
      outputs: scheduled(s, outputs, "outputs", { except: ["uri"] }),
      engine: scheduled(s, engine, "engine", { except: ["executionArnOf"] }),
    },
    {
      cancel: {
        settleMs: 0,
        concurrentCancelWaitMs: 0,
        ...(scenario.deferMarking
          ? { reconcileQueue: scheduled(s, queue, "queue"), syncMarkLimit: 0 }
          : {}),
      },
      runner: { pollMs: 1, progressEveryMs: 0 },
    },
  );

  // The phases, as the scenario scripts them.
  const emitted: { jobId: string; phase: string; item: string }[] = [];
  const definitions = Object.fromEntries(
    scenario.phases.map((name, index) => [name, scriptedPhase(name, index)]),
  ) as Record<string, AnyPhase>;
  function scriptedPhase(name: string, index: number): AnyPhase {
    return definePhase({
      name,
      async run(ctx) {
        const job = JOB_NAMES.indexOf(ctx.job.name as (typeof JOB_NAMES)[number]);
        const script = scenario.jobs[job]?.[index]?.[ctx.job.attempt - 1];
        const todo: PhaseStep = script ?? { kind: "succeed", items: 0 };
        const emit = async (n: number) => {
          const item = `${ctx.job.jobId}/${name}/${ctx.job.attempt}/${n}`;
          await ctx.emit([item]);
          emitted.push({ jobId: ctx.job.jobId, phase: name, item });
        };
        let done = 0;
        for (; done < todo.items; done++) {
          if (todo.kind === "work" && ctx.signal.aborted) {
            if (todo.onCancel === "throw") ctx.throwIfCancelled();
            break;
          }
          await emit(done);
          ctx.progress(done + 1, todo.items);
          await pause(1, `${ctx.job.name} ${name} works`);
        }
        if (todo.kind === "fail") throw new Error(`${ctx.job.name} fails in ${name}`);
        return { pages: done, scoreSum: done };
      },
    });
  }

  // The execution, as the state machine runs it.
  const running = () => execution === "running";
  async function runExecution(input: ExecutionInput): Promise<void> {
    const waiting = input.jobs.map((job) => job.jobId);
    const iterate = async () => {
      for (let jobId = waiting.shift(); jobId && running(); jobId = waiting.shift())
        await runJob(input.batchId, jobId);
    };
    await Promise.all(Array.from({ length: Math.min(input.concurrency, waiting.length) }, iterate));
    if (!running()) return;
    finalizeStarted = true;
    await core.completion.finalize(input.batchId);
    if (!running()) return;
    execution = "succeeded";
    const change: ExecutionStatusChange = {
      executionArn: engine.executionArnOf(input.batchId),
      name: input.batchId,
      status: "SUCCEEDED",
    };
    engine.ended.set(change.executionArn, change);
    if (scenario.succeededEvent)
      spawn("reconcile SUCCEEDED", async () => {
        await pause(1, "event delivery");
        await core.reconciler.reconcile(change);
      });
  }
  async function runJob(batchId: string, jobId: string): Promise<void> {
    for (const [index, phase] of scenario.phases.entries()) {
      const isFinal = index === scenario.phases.length - 1;
      for (let attempt = 0; ; attempt++) {
        if (!running()) return; // a stopped execution starts no task, retries included
        try {
          const reply = await core.runner.run(
            { batchId, jobId, phase, isFinal },
            definitions[phase] as AnyPhase,
          );
          if (reply.outcome !== "continue") return;
          break;
        } catch (error) {
          if (!(error instanceof PhaseFailedError)) throw error;
          if (attempt < scenario.retries) {
            await pause(1, "retry backoff");
            continue;
          }
          if (!running()) return;
          await core.completion.recordJobFailure(
            batchId,
            jobId,
            error.name,
            JSON.stringify({ errorMessage: error.message }),
          );
          return;
        }
      }
    }
  }

  // Submit, then the actors, each after its own number of steps.
  const by = "property-test";
  const body = {
    name: "interleavings",
    jobs: scenario.jobs.map((_, index) => JOB_NAMES[index] as string),
    concurrency: scenario.concurrency,
  };
  const replay = scenario.replaySubmit;
  const key = replay === undefined ? {} : { idempotencyKey: "the-same-request" };
  if (replay !== undefined)
    spawn("submit replay", async () => {
      await pause(replay, "submit replay");
      submitted.push((await core.submit.submit(body, key)).batchId);
    });
  spawn("submit", async () => {
    const answer = await core.submit.submit(body, key);
    submitted.push(answer.batchId);
    for (const [index, act] of scenario.actors.entries()) {
      const name = `${act.kind} #${index + 1}`;
      spawn(name, async () => {
        await pause(act.after, name);
        switch (act.kind) {
          case "cancelBatch": {
            const result = await core.cancel.cancelBatch(answer.batchId, { by, reason: name });
            answers.push({ actor: name, kind: "batch", result });
            return;
          }
          case "cancelJobs": {
            const result = await core.cancel.cancelJobs(
              answer.batchId,
              act.targets.map((t) => (t.byName ? (JOB_NAMES[t.job] as string) : jobIdFor(t.job))),
              { by, reason: name },
            );
            answers.push({ actor: name, kind: "jobs", result });
            return;
          }
          case "cancelJob": {
            const jobId = jobIdFor(act.job);
            const reply = (outcome: JobAnswer) =>
              answers.push({ actor: name, kind: "job", jobId, outcome });
            try {
              await core.cancel.cancelJob(answer.batchId, jobId, { by, reason: name });
              reply("cancelled");
            } catch (error) {
              // The API's 409s: the job had finished, or was in its final commit.
              if (error instanceof JobAlreadyFinishedError) reply("already_finished");
              else if (error instanceof JobInCommitError) reply("in_commit");
              else throw error;
            }
            return;
          }
          case "consoleStop":
            await core.engine.stopExecution(answer.executionArn, act.error, name);
            return;
        }
      });
    }
  });
  // Run until every actor, and every actor they started, has finished; the clock ticks meanwhile.
  let settled = false;
  let ticks = 0;
  const clock = (async () => {
    while (!settled) {
      await s.schedule(Promise.resolve(), "clock");
      if (++ticks > MAX_TICKS) {
        errors.push({ actor: "clock", error: new Error(`still running after ${MAX_TICKS} ticks`) });
        return;
      }
      vi.advanceTimersToNextTimer();
    }
  })();
  for (let count = -1; count !== actors.length; ) {
    count = actors.length;
    await s.waitFor(Promise.all(actors));
  }
  settled = true;
  // Stragglers: the clock's last tick, a poll that was in flight when its phase ended.
  await s.waitIdle();
  await clock;

  return {
    batchId,
    store,
    outputs,
    emitted,
    execution,
    abortedBeforeFinalize,
    submitted,
    answers,
    errors,
  };
}

/**
 * A view of `target` whose methods (but the synchronous ones named in `except`) each wait for the
 * scheduler before they run and again before their caller gets the answer. The methods run on the
 * target itself, so one method calling another is one step, as one request to a database is.
 */
function scheduled<T extends object>(
  s: fc.Scheduler,
  target: T,
  label: string,
  options: { except?: readonly (keyof T & string)[] } = {},
): T {
  const except: readonly string[] = options.except ?? [];
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object);
      if (typeof value !== "function") return value;
      const name = String(property);
      if (except.includes(name)) return value.bind(object);
      return async (...args: unknown[]) => {
        await s.schedule(Promise.resolve(), `${label}.${name} sent`);
        const answer: unknown = await value.apply(object, args);
        return s.schedule(Promise.resolve(answer), `${label}.${name} answered`);
      };
    },
  });
}

/** The recording engine, telling the simulation when an execution starts and when it is stopped. */
class SimulatedEngine extends RecordingEngine {
  constructor(
    private readonly hooks: {
      onStart(input: ExecutionInput): void;
      onStop(executionArn: string, error: string, cause: string): void;
    },
  ) {
    super();
  }

  override async startExecution(name: string, input: unknown): Promise<string> {
    const arn = await super.startExecution(name, input);
    this.hooks.onStart(input as ExecutionInput);
    return arn;
  }

  override async stopExecution(executionArn: string, error: string, cause: string): Promise<void> {
    await super.stopExecution(executionArn, error, cause);
    this.hooks.onStop(executionArn, error, cause);
  }
}

/** The reconcile queue, delivering each request to the reconciler (as SQS would, later). */
class DeliveringQueue extends MemoryReconcileQueue {
  constructor(private readonly deliver: (batch: BatchRecord, intent: CancelIntent) => void) {
    super();
  }

  override async requestReconcile(batch: BatchRecord, intent: CancelIntent): Promise<void> {
    await super.requestReconcile(batch, intent);
    this.deliver(batch, intent);
  }
}
