import { z } from "zod";
import { PayloadTooLargeError, ValidationError } from "./errors";
import { BATCH_STATUSES } from "./model";

/** Inline Map executions stay far below the 25,000-event history limit up to this size. */
export const MAX_JOBS_PER_BATCH = 1000;
export const MAX_CONCURRENCY = 40;
export const DEFAULT_CONCURRENCY = 10;
export const MAX_BODY_BYTES = 1024 * 1024;
const MAX_INPUT_BYTES = 8 * 1024;

const text = (what: string, max: number) =>
  z
    .string({ error: `${what} must be a string` })
    .trim()
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`)
    .refine((value) => !hasControlCharacters(value), `${what} must not contain control characters`);

function hasControlCharacters(value: string): boolean {
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

export const jobInputSchema = z
  .object({
    pages: z.number().int().min(1).max(1000).optional(),
    workMs: z
      .number()
      .int()
      .min(0)
      .max(15 * 60 * 1000)
      .optional(),
    failIn: z.string().min(1).max(64).optional(),
  })
  .catchall(z.unknown())
  .refine((input) => JSON.stringify(input).length <= MAX_INPUT_BYTES, {
    message: `input must be at most ${MAX_INPUT_BYTES} bytes of JSON`,
  });

const jobSchema = z.union(
  [
    text("job name", 200),
    z.object({ name: text("name", 200), input: jobInputSchema.optional() }).strict(),
  ],
  { error: 'each job must be a name ("RY.TO") or an object {"name", "input"?}' },
);

export const submitBatchSchema = z
  .object({
    name: text("name", 200).optional(),
    jobs: z
      .array(jobSchema, { error: "jobs must be an array" })
      .min(1, "jobs must hold at least one job")
      .max(
        MAX_JOBS_PER_BATCH,
        `jobs may hold at most ${MAX_JOBS_PER_BATCH} jobs per batch (one inline-Map execution); split larger work into several batches`,
      ),
    concurrency: z
      .number({ error: "concurrency must be a number" })
      .int("concurrency must be a whole number")
      .min(1, "concurrency must be at least 1")
      .max(MAX_CONCURRENCY, `concurrency must be at most ${MAX_CONCURRENCY}`)
      .optional(),
  })
  .strict();

export type SubmitBatchBody = z.infer<typeof submitBatchSchema>;

export const cancelBodySchema = z
  .object({
    reason: text("reason", 500).optional(),
    jobs: z
      .array(text("job", 200), { error: "jobs must be an array of job ids or names" })
      .min(1, "jobs must name at least one job")
      .max(MAX_JOBS_PER_BATCH)
      .optional(),
  })
  .strict();

export type CancelBody = z.infer<typeof cancelBodySchema>;

export const cancelJobBodySchema = z.object({ reason: text("reason", 500).optional() }).strict();

export const listBatchesQuerySchema = z
  .object({
    status: z
      .enum(BATCH_STATUSES, {
        error:
          "status must be one of queued, running, cancelling, succeeded, completed_with_errors, failed, cancelled",
      })
      .optional(),
    limit: z.coerce
      .number({ error: "limit must be a number" })
      .int("limit must be a whole number")
      .min(1, "limit must be at least 1")
      .max(100, "limit must be at most 100")
      .optional(),
    cursor: z.string().max(2048).optional(),
  })
  .strict();

const BATCH_ID = /^b-[a-z0-9]{6,16}-[a-f0-9]{8}$/;
const JOB_ID = /^job-\d{5}$/;

export function assertBatchId(value: string | undefined): string {
  if (!value || !BATCH_ID.test(value)) {
    throw new ValidationError(
      `batchId '${printable(value)}' is not a valid batch id (like b-m1abc2de-0a1b2c3d)`,
    );
  }
  return value;
}

export function assertJobId(value: string | undefined): string {
  if (!value || !JOB_ID.test(value)) {
    throw new ValidationError(`jobId '${printable(value)}' is not a valid job id (like job-00001)`);
  }
  return value;
}

export const isJobId = (value: string): boolean => JOB_ID.test(value);

function printable(value: string | undefined): string {
  return (value ?? "").slice(0, 80).replace(/[^\x20-\x7e]/g, "?");
}

/** Parses a JSON request body against a schema; every failure is a ValidationError naming the problem. */
export function parseBody<T extends z.ZodType>(
  schema: T,
  body: string | null | undefined,
  { required = true }: { required?: boolean } = {},
): z.infer<T> {
  if (body && Buffer.byteLength(body) > MAX_BODY_BYTES) {
    throw new PayloadTooLargeError(`request body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  let raw: unknown = {};
  if (body && body.trim() !== "") {
    try {
      raw = JSON.parse(body);
    } catch (error) {
      throw new ValidationError(`request body is not valid JSON: ${(error as Error).message}`);
    }
  } else if (required) {
    throw new ValidationError("request body is required (JSON)");
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ValidationError("request body must be a JSON object");
  }
  return parseWith(schema, raw);
}

export function parseWith<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ValidationError(describeIssues(parsed.error.issues));
  return parsed.data;
}

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path
        .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
        .join("");
      const where = path.replace(/^\./, "");
      if (issue.code === "unrecognized_keys") {
        return `${where ? `${where}: ` : ""}unknown field(s) ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
      }
      return where ? `${where}: ${issue.message}` : issue.message;
    })
    .join("; ");
}
