/**
 * The stepbatch SDK: what a pipeline's own code imports. A phase is a function of a typed context
 * (the job's input, the outputs of earlier phases, a cancel signal, checkpoints, emitted items,
 * progress and a logger); a pipeline lists its phases in order. No AWS types here.
 */
import type { z } from "zod";

/** The job a phase runs for. `attempt` counts from 1 and grows when a failed phase is retried. */
export interface JobInfo {
  readonly batchId: string;
  readonly jobId: string;
  readonly name: string;
  readonly attempt: number;
}

/** Structured logger with the batch, job and phase keys already attached. */
export interface PhaseLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** Any value JSON can hold: phase outputs, items and checkpoints are stored as JSON. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface PhaseContext<Input = unknown, Checkpoint = Json> {
  /** The job's input, parsed with the phase's schema (defaults applied). */
  readonly input: Input;
  readonly job: JobInfo;
  /** This phase's name, e.g. "Ingest". */
  readonly phase: string;
  /**
   * Fires within about a second of a cancel of the job or its batch, and shortly before the
   * phase's time runs out. Check it at safe points, or pass it to fetch and timers.
   */
  readonly signal: AbortSignal;
  /** Throws PhaseCancelled if `signal` has fired: a one-line safe point. */
  throwIfCancelled(): void;
  /** The outputs of the phases of this job that ran before this one, by phase name. */
  readonly previous: Readonly<Record<string, unknown>>;
  /** The output of an earlier phase of this job; throws if that phase has no output. */
  outputOf<T = unknown>(phase: string): T;
  /** The last checkpoint this phase saved for this job (in an earlier attempt too), if any. */
  readonly checkpoint: Checkpoint | undefined;
  /** Saves a checkpoint durably: a retry after a failure or a timeout starts from it. */
  save(checkpoint: Checkpoint): Promise<void>;
  /** Appends result items durably, as they are produced: a cancel, timeout or crash keeps them. */
  emit(items: readonly unknown[]): Promise<void>;
  /** Reports progress, shown in the batch status, the CLI and MCP while the phase runs. */
  progress(done: number, total?: number): void;
  readonly log: PhaseLogger;
}

/** A phase as written with `definePhase`. */
export interface PhaseDefinition<Input = unknown, Output = unknown, Checkpoint = Json> {
  readonly kind: "stepbatch.phase";
  /** The phase's name; must match its name in the pipeline. */
  readonly name: string;
  /** The job input this phase needs, checked when the batch is submitted (a bad one is a 400). */
  readonly input?: z.ZodType<Input>;
  /** The phase's work. Its return value is the phase's output: any JSON. */
  run(context: PhaseContext<Input, Checkpoint>): Promise<Output>;
}

export function definePhase<Input = unknown, Output = unknown, Checkpoint = Json>(phase: {
  readonly name: string;
  readonly input?: z.ZodType<Input>;
  run(context: PhaseContext<Input, Checkpoint>): Promise<Output>;
}): PhaseDefinition<Input, Output, Checkpoint> {
  return { kind: "stepbatch.phase", ...phase };
}

/** Thrown by `throwIfCancelled`; a phase that ends with it has stopped at a safe point. */
export class PhaseCancelledError extends Error {
  override readonly name = "PhaseCancelled";
  constructor(message = "the phase was cancelled") {
    super(message);
  }
}

/** One phase in a pipeline: where its code is and how its function runs. */
export interface PipelinePhase {
  /** The state name in the console, e.g. "Ingest": letters, digits and spaces. */
  readonly name: string;
  /** The module whose default export is this phase's `definePhase(...)`, relative to the config file. */
  readonly entry: string;
  /** @default 300 */
  readonly timeoutSeconds?: number;
  /** @default 512 */
  readonly memoryMb?: number;
  /** Attempts after the first when the phase fails or times out. @default 2 */
  readonly retries?: number;
  /** Extra environment variables of this phase's function. */
  readonly environment?: Readonly<Record<string, string>>;
}

/** What one job produced, as the summary sees it when one of its phases ends. */
export interface JobOutcome {
  readonly jobId: string;
  readonly name: string;
  /** Outputs of the phases that ran so far (a stopped phase's partial output included). */
  readonly outputs: Readonly<Record<string, unknown>>;
  /** Items each phase emitted. */
  readonly items: Readonly<Record<string, number>>;
}

/**
 * A field of the batch's results, computed from the sums of every job's numbers. Sums are kept as
 * jobs progress, so the results of a batch of any size are answered without reading its outputs.
 */
export type SummaryField =
  | { readonly sum: string }
  | { readonly ratio: readonly [numerator: string, denominator: string]; readonly digits?: number };

/** The sum of one of the jobs' numbers. */
export const sum = (name: string): SummaryField => ({ sum: name });
/** One sum divided by another (null while the denominator is 0), rounded to `digits` (2). */
export const ratio = (numerator: string, denominator: string, digits = 2): SummaryField => ({
  ratio: [numerator, denominator],
  digits,
});

export interface PipelineSummary {
  /** The numbers one job adds to the batch's sums, from what its phases produced so far. */
  readonly perJob: (job: JobOutcome) => Readonly<Record<string, number>>;
  /** The fields shown in the batch's results. */
  readonly fields: Readonly<Record<string, SummaryField>>;
}

/** A batch started on a schedule (EventBridge Scheduler on AWS). */
export interface PipelineSchedule {
  /** 1 to 64 letters, digits, '-' or '_'. */
  readonly name: string;
  readonly description?: string;
  /** `cron(...)`, `rate(N unit)` or `at(...)`, as EventBridge Scheduler reads them. */
  readonly expression: string;
  /** An IANA time zone for cron expressions. @default "UTC" */
  readonly timezone?: string;
  /** @default true */
  readonly enabled?: boolean;
  /** The batch to start: the body of `POST /batches`. */
  readonly batch: {
    readonly name?: string;
    readonly jobs: readonly (string | { readonly name: string; readonly input?: Json })[];
    readonly concurrency?: number;
  };
}

/**
 * A pipeline: the default export of `stepbatch.config.ts` in your project. The CDK construct
 * (`stepbatch/cdk`) and `npx stepbatch dev` both read it.
 */
export interface PipelineDefinition {
  readonly kind: "stepbatch.pipeline";
  /** A name for people: shown in the banner and the console. */
  readonly name: string;
  /** The phases every job runs, in order. The last one commits: a cancel never interrupts it. */
  readonly phases: readonly PipelinePhase[];
  /** The job input every phase may read, checked when a batch is submitted. */
  readonly input?: z.ZodType;
  /** Jobs running at once when a submit does not say. @default 10 */
  readonly concurrency?: number;
  readonly summary?: PipelineSummary;
  /** Batches started on a schedule. @default none */
  readonly schedules?: readonly PipelineSchedule[];
}

export function definePipeline(pipeline: Omit<PipelineDefinition, "kind">): PipelineDefinition {
  return { kind: "stepbatch.pipeline", ...pipeline };
}

/** Any phase, whatever its input, output and checkpoint types: what the runner accepts. */
// biome-ignore lint/suspicious/noExplicitAny: each phase has its own types; a runner takes any of them
export type AnyPhase = PhaseDefinition<any, any, any>;
