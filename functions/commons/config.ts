import { z } from "zod";
import type { SummaryField } from "../../sdk/index.ts";

/**
 * Configuration, read from the environment once at cold start and validated, so a misdeployed
 * function fails on its first invocation with a message that names the missing setting.
 */
const schema = z.object({
  TABLE_NAME: z.string().min(1),
  BUCKET_NAME: z.string().min(1),
  /** The batch state machine: given only to the functions that start or stop executions. */
  STATE_MACHINE_ARN: z.string().optional(),
  /** How often a running phase re-reads the cancel intent. */
  CANCEL_POLL_MS: z.coerce.number().int().min(50).max(10_000).default(1000),
  /** How long a batch cancel waits for running phases to save their partial output. */
  CANCEL_SETTLE_MS: z.coerce.number().int().min(0).max(20_000).default(0),
  /** Batches with at least this many jobs get a results manifest when cancelled. */
  MANIFEST_THRESHOLD: z.coerce.number().int().min(1).default(100),
  /** The reconciler's queue: a cancel of a large batch hands the marking of queued jobs to it. */
  RECONCILE_QUEUE_URL: z.string().default(""),
  /** Up to this many queued jobs are marked within the cancel request. */
  SYNC_MARK_LIMIT: z.coerce.number().int().min(0).default(25),
  /** The sweep looks at a batch still queued or cancelling this long after it was created. */
  STRANDED_AFTER_MS: z.coerce.number().int().min(0).default(10_000),
  /** How far back the sweep looks for such batches. */
  SWEEP_LOOKBACK_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .default(7 * 24),
  /** The pipeline's summary fields (JSON), computed from each batch's sums. */
  SUMMARY_FIELDS: z
    .string()
    .default("{}")
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as Record<string, SummaryField>;
      } catch {
        ctx.addIssue({ code: "custom", message: "must be JSON" });
        return z.NEVER;
      }
    }),
  /** The pipeline's phases in order, with their memory (JSON): what a cancel saved is priced by them. */
  PIPELINE_PHASES: z
    .string()
    .default("[]")
    .transform((text, ctx) => {
      try {
        return z
          .array(z.object({ name: z.string(), memoryMb: z.number().int().positive() }))
          .parse(JSON.parse(text));
      } catch {
        ctx.addIssue({
          code: "custom",
          message: 'must be JSON like [{"name":"Ingest","memoryMb":512}]',
        });
        return z.NEVER;
      }
    }),
  /** The EventBridge bus a batch's events ("Batch Quiesced") are published on. */
  EVENT_BUS_NAME: z.string().min(1).default("default"),
  /** A phase stops this long before its Lambda timeout to save its partial output. */
  TIMEOUT_MARGIN_MS: z.coerce.number().int().min(0).default(3_000),
});

export type Config = z.infer<typeof schema>;

let cached: Config | undefined;

export function config(): Config {
  if (!cached) {
    const parsed = schema.safeParse(process.env);
    if (!parsed.success) {
      const problems = parsed.error.issues
        .map((i) => `${i.path.join(".")}: ${i.message}`)
        .join("; ");
      throw new Error(`stepbatch configuration is invalid: ${problems}`);
    }
    cached = parsed.data;
  }
  return cached;
}

/** A setting only some functions are given: the one asking needs it, and says why. */
export function requiredSetting(name: "STATE_MACHINE_ARN", why: string): string {
  const value = config()[name];
  if (!value) throw new Error(`stepbatch configuration is invalid: ${name} is not set, and ${why}`);
  return value;
}
