import type { Json, PhaseContext, PhaseDefinition } from "../../sdk/index.ts";

/**
 * Runs a phase the way the runner would, with everything it writes kept in memory: what it
 * emitted, saved and reported. For unit tests of a pipeline's own phases.
 */
export async function runPhase<Input, Output>(
  phase: PhaseDefinition<Input, Output, any>,
  options: {
    input: unknown;
    name?: string;
    previous?: Record<string, unknown>;
    checkpoint?: Json;
    signal?: AbortSignal;
    attempt?: number;
  },
) {
  const emitted: unknown[] = [];
  const saved: unknown[] = [];
  const progress: [number, number | undefined][] = [];
  const signal = options.signal ?? new AbortController().signal;
  const input = phase.input ? phase.input.parse(options.input) : (options.input as Input);
  const context: PhaseContext<Input, any> = {
    input,
    job: {
      batchId: "b-test",
      jobId: "job-00001",
      name: options.name ?? "RY.TO",
      attempt: options.attempt ?? 1,
    },
    phase: phase.name,
    signal,
    throwIfCancelled: () => {
      if (signal.aborted) throw new Error("cancelled");
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
