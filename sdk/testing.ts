/**
 * Testing your phases (`stepbatch/testing`): run one with a context kept in memory, no AWS and no
 * local stack, and look at what it returned, emitted, saved and reported.
 */
import {
  type Json,
  PhaseCancelledError,
  type PhaseContext,
  type PhaseDefinition,
} from "./index.ts";

export interface RunPhaseOptions {
  /** The job's input, parsed with the phase's schema as the runner does (defaults applied). */
  readonly input: unknown;
  /** The job's name. @default "example" */
  readonly name?: string;
  /** Outputs of earlier phases, by phase name (`ctx.previous`, `ctx.outputOf`). */
  readonly previous?: Readonly<Record<string, unknown>>;
  /** The checkpoint an earlier attempt saved. */
  readonly checkpoint?: Json;
  /** Abort it to play a cancel. */
  readonly signal?: AbortSignal;
  /** @default 1 */
  readonly attempt?: number;
}

export interface PhaseRun<Output> {
  readonly output: Output;
  /** Every item the phase emitted, in order. */
  readonly emitted: unknown[];
  /** Every checkpoint it saved, in order. */
  readonly saved: unknown[];
  /** Every progress report: [done, total]. */
  readonly progress: [number, number | undefined][];
}

/** Runs a phase the way the runner would, with everything it writes kept in memory. */
export async function runPhase<Input, Output>(
  // biome-ignore lint/suspicious/noExplicitAny: a phase of any checkpoint type
  phase: PhaseDefinition<Input, Output, any>,
  options: RunPhaseOptions,
): Promise<PhaseRun<Output>> {
  const emitted: unknown[] = [];
  const saved: unknown[] = [];
  const progress: [number, number | undefined][] = [];
  const signal = options.signal ?? new AbortController().signal;
  const input = phase.input ? phase.input.parse(options.input) : (options.input as Input);
  // biome-ignore lint/suspicious/noExplicitAny: a phase of any checkpoint type
  const context: PhaseContext<Input, any> = {
    input,
    job: {
      batchId: "b-test",
      jobId: "job-00001",
      name: options.name ?? "example",
      attempt: options.attempt ?? 1,
    },
    phase: phase.name,
    signal,
    throwIfCancelled: () => {
      if (signal.aborted) throw new PhaseCancelledError();
    },
    previous: options.previous ?? {},
    outputOf: <T>(name: string) => {
      if (!(name in (options.previous ?? {}))) throw new Error(`no output of phase '${name}'`);
      return options.previous?.[name] as T;
    },
    checkpoint: options.checkpoint,
    save: async (checkpoint) => {
      saved.push(checkpoint);
    },
    emit: async (items) => {
      emitted.push(...items);
    },
    progress: (done, total) => {
      progress.push([done, total]);
    },
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  };
  const output = await phase.run(context);
  return { output, emitted, saved, progress };
}
