import { createHash } from "node:crypto";
import { z } from "zod";
import {
  BatchNotFoundError,
  CancellationNotFoundError,
  JobNotFoundError,
  PayloadTooLargeError,
  ValidationError,
} from "./errors.ts";
import { BATCH_STATUSES, JOB_STATUSES, STOP_MODES } from "./model.ts";
import { RECEIPT_PAGE } from "./receipts.ts";
import { RESULTS_PAGE } from "./results.ts";

/** Inline Map executions stay far below the 25,000-event history limit up to this size. */
export const MAX_JOBS_PER_BATCH = 1000;
export const MAX_CONCURRENCY = 40;
export const DEFAULT_CONCURRENCY = 10;
export const MAX_BODY_BYTES = 1024 * 1024;
const MAX_INPUT_BYTES = 8 * 1024;
const BATCH_ID = /^b-[a-z0-9]{6,16}-[a-f0-9]{8}$/;
const JOB_ID = /^job-\d{5}$/;
const JOB_ID_LIKE = /^job-\d+$/i;
/** DynamoDB allows 32 levels of nesting in an item; a job input sits two levels down in its record. */
const MAX_INPUT_DEPTH = 16;
/** No request body needs more nesting than this; deeper ones are refused before any schema runs. */
const MAX_BODY_DEPTH = 32;

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

/**
 * Characters that make two names look alike or hide what a name says: control and format
 * characters (bidi overrides, zero-width spaces), line and paragraph separators, private-use code
 * points and lone surrogates.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Zl}\p{Zp}]/u;

/** Why a job or batch name cannot be used, or undefined when it can. */
function nameProblem(value: string): string | undefined {
  if (!value.isWellFormed()) return "must not contain lone surrogates (invalid Unicode)";
  const hidden = INVISIBLE.exec(value)?.[0];
  if (hidden !== undefined) {
    const code = (hidden.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
    return `must not contain invisible or control characters (U+${code})`;
  }
  if (value.trim() !== value) return "must not start or end with spaces";
  return undefined;
}

/** A name people read and cancel by: printable, no hidden characters, never silently altered. */
const printableName = (what: string, max: number) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .max(max, `${what} must be at most ${max} characters`)
    .superRefine((value, ctx) => {
      const problem = nameProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: `${what} ${problem}` });
    });

/** Job names are never shaped like job ids, so a cancel by id or by name is never ambiguous. */
const jobName = (what: string) =>
  printableName(what, 200).refine(
    (value) => !JOB_ID_LIKE.test(value),
    `${what} must not look like a job id (job-00001): ids and names are both accepted when cancelling`,
  );

/** The deepest nesting in a JSON value, measured without recursion (a deep value cannot overflow the stack). */
function jsonDepth(value: unknown, stopAt = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (current === null || typeof current !== "object") continue;
    deepest = Math.max(deepest, depth);
    if (deepest > stopAt) return deepest;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** DynamoDB's number range: magnitudes from 1e-130 up to, not including, 1e126 (and 0). */
const DYNAMODB_NUMBER = { smallest: 1e-130, tooLarge: 1e126 };

/** The first number in a JSON value that DynamoDB cannot store, walked without recursion. */
function firstUnstorableNumber(value: unknown): number | undefined {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === "number") {
      const size = Math.abs(current);
      if (size !== 0 && (size < DYNAMODB_NUMBER.smallest || size >= DYNAMODB_NUMBER.tooLarge))
        return current;
    } else if (current !== null && typeof current === "object") {
      stack.push(...Object.values(current));
    }
  }
  return undefined;
}

/**
 * A job's input as the product sees it: any JSON object, small and shallow enough to store. What it
 * holds is the pipeline's business (its `input` schemas are checked at submit too).
 */
const jobInputSchema = z
  .record(z.string(), z.unknown(), { error: "input must be a JSON object" })
  .superRefine((input, ctx) => {
    // Depth first: measuring the size of a deeply nested value could overflow the stack.
    if (jsonDepth(input, MAX_INPUT_DEPTH) > MAX_INPUT_DEPTH) {
      ctx.addIssue({
        code: "custom",
        message: `input must be nested at most ${MAX_INPUT_DEPTH} levels deep`,
      });
      return;
    }
    if (Buffer.byteLength(JSON.stringify(input)) > MAX_INPUT_BYTES) {
      ctx.addIssue({
        code: "custom",
        message: `input must be at most ${MAX_INPUT_BYTES} bytes of JSON`,
      });
      return;
    }
    const unstorable = firstUnstorableNumber(input);
    if (unstorable !== undefined)
      ctx.addIssue({
        code: "custom",
        message: `input holds the number ${unstorable}, which DynamoDB cannot store: numbers must be 0 or between 1e-130 and 9.9e125 in size`,
      });
  });

/** A schema a job's input must fit, and who asks for it (for the message). */
export interface InputCheck {
  readonly by: string;
  readonly schema: z.ZodType;
}

/**
 * Checks every job's input against the pipeline's and its phases' schemas; the first misfit is a
 * ValidationError naming the job and the field (`jobs[0].input.pages: expected number`).
 */
export function checkJobInputs(
  jobs: readonly { readonly input: unknown }[],
  checks: readonly InputCheck[],
): void {
  const problems: string[] = [];
  jobs.forEach((job, index) => {
    for (const check of checks) {
      const parsed = check.schema.safeParse(job.input);
      if (parsed.success) continue;
      const where = parsed.error.issues.slice(0, 3).map((issue) => {
        const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`));
        return `jobs[${index}].input${path.join("")}: ${issue.message}`;
      });
      problems.push(`${where.join("; ")} (the ${check.by} input)`);
      return;
    }
  });
  if (problems.length > 0) throw new ValidationError(problems.slice(0, 5).join("; "));
}

const jobSchema = z.union(
  [
    jobName("job name"),
    z.object({ name: jobName("name"), input: jobInputSchema.optional() }).strict(),
  ],
  { error: 'each job must be a name ("RY.TO") or an object {"name", "input"?}' },
);

/** Loopback hosts: plain http is allowed to them only (a receiver on your own machine). */
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

const webhookSchema = z
  .object({
    url: z
      .string({ error: "webhook.url must be a URL" })
      .max(2048, "webhook.url must be at most 2048 characters")
      .refine((value) => {
        try {
          const url = new URL(value);
          return (
            url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname))
          );
        } catch {
          return false;
        }
      }, "webhook.url must be an https:// URL (or http:// to 127.0.0.1 or localhost)"),
    secret: z
      .string({ error: "webhook.secret must be a string" })
      .min(16, "webhook.secret must be at least 16 characters: notices are signed with it")
      .max(256, "webhook.secret must be at most 256 characters"),
  })
  .strict();

export const submitBatchSchema = z
  .object({
    name: printableName("name", 200).optional(),
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
    /** Where the batch's "Batch Quiesced" notice is posted, signed with `secret`. */
    webhook: webhookSchema.optional(),
  })
  .strict();

export type SubmitBatchBody = z.infer<typeof submitBatchSchema>;

/** The longest grace a phase may be given to stop: a phase function's longest timeout. */
export const MAX_GRACE_SECONDS = 900;

/** How a cancel stops what runs, and how long a `now` cancel gives a phase to stop. */
const stopOptions = {
  mode: z.enum(STOP_MODES, { error: `mode must be one of ${STOP_MODES.join(", ")}` }).optional(),
  graceSeconds: z
    .number({ error: "graceSeconds must be a whole number of seconds" })
    .int("graceSeconds must be a whole number of seconds")
    .min(1, "graceSeconds must be at least 1")
    .max(MAX_GRACE_SECONDS, `graceSeconds must be at most ${MAX_GRACE_SECONDS}`)
    .optional(),
};

const jobFilterSchema = z
  .object({
    status: z
      .array(z.enum(JOB_STATUSES, { error: `status must be among ${JOB_STATUSES.join(", ")}` }))
      .min(1, "filter.status must name at least one status")
      .optional(),
    phase: text("filter.phase", 200).optional(),
    name: text("filter.name", 200).optional(),
    input: z
      .record(
        z.string().max(200),
        z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]),
        { error: "filter.input must map input fields to strings, numbers, booleans or null" },
      )
      .optional(),
  })
  .strict()
  .refine((filter) => Object.keys(filter).length > 0, "filter must say what to select");

export const cancelBodySchema = z
  .object({
    reason: text("reason", 500).optional(),
    ...stopOptions,
    jobs: z
      .array(text("job", 200), { error: "jobs must be an array of job ids or names" })
      .min(1, "jobs must name at least one job")
      .max(MAX_JOBS_PER_BATCH)
      .optional(),
    /** Choose the jobs by what they are (with `dryRun`, only preview them). */
    filter: jobFilterSchema.optional(),
    dryRun: z.boolean({ error: "dryRun must be true or false" }).optional(),
    /** Cancel exactly the jobs a preview chose. */
    confirmToken: z
      .string()
      .regex(/^s-[0-9a-f]{24}$/, "confirmToken must be the confirmToken a dry run answered with")
      .optional(),
  })
  .strict()
  .refine(
    (body) => [body.jobs, body.filter, body.confirmToken].filter(Boolean).length <= 1,
    "give at most one of jobs, filter and confirmToken",
  )
  .refine((body) => !body.dryRun || body.filter, "dryRun previews a filter: give filter too");

export type CancelBody = z.infer<typeof cancelBodySchema>;

/** POST /batches/{batchId}/resume: every cancelled job, or the ones named. */
export const resumeBodySchema = z
  .object({
    reason: text("reason", 500).optional(),
    jobs: z
      .array(text("job", 200), { error: "jobs must be an array of job ids or names" })
      .min(1, "jobs must name at least one job")
      .max(MAX_JOBS_PER_BATCH)
      .optional(),
  })
  .strict();

export const cancelJobBodySchema = z
  .object({ reason: text("reason", 500).optional(), ...stopOptions })
  .strict();

/** A whole number in a query string, in digits only: Number() would also take "1e2", "0x10" or " 5". */
const queryCount = (what: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,7}$/, `${what} must be a whole number from ${min} to ${max}, in digits`)
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, `${what} must be at least ${min}`)
        .max(max, `${what} must be at most ${max}`),
    );

export const listBatchesQuerySchema = z
  .object({
    status: z
      .enum(BATCH_STATUSES, {
        error:
          "status must be one of queued, running, cancelling, succeeded, completed_with_errors, failed, cancelled",
      })
      .optional(),
    limit: queryCount("limit", 1, 100).optional(),
    cursor: z.string().max(2048).optional(),
  })
  .strict();

export const batchStatusQuerySchema = z
  .object({
    jobsOffset: queryCount("jobsOffset", 0, MAX_JOBS_PER_BATCH).optional(),
    jobsLimit: queryCount("jobsLimit", 1, MAX_JOBS_PER_BATCH).optional(),
  })
  .strict();

export const resultsQuerySchema = z
  .object({
    limit: queryCount("limit", 1, RESULTS_PAGE.maxJobs).optional(),
    cursor: z.string().max(2048).optional(),
    items: queryCount("items", 0, RESULTS_PAGE.maxItems).optional(),
  })
  .strict();

export const jobOutputQuerySchema = z
  .object({
    phase: z.string().min(1).max(64).optional(),
    itemsOffset: queryCount("itemsOffset", 0, 10_000_000).optional(),
    items: queryCount("items", 0, RESULTS_PAGE.maxItems).optional(),
  })
  .strict();

/** A batch id from a path. One that is not of the form stepbatch issues names nothing: 404. */
export function assertBatchId(value: string | undefined): string {
  if (!value || !BATCH_ID.test(value)) {
    throw new BatchNotFoundError(printable(value), "batch ids look like b-m1abc2de-0a1b2c3d");
  }
  return value;
}

/** A job id from a path. One that is not of the form stepbatch issues names nothing: 404. */
export function assertJobId(batchId: string, value: string | undefined): string {
  if (!value || !JOB_ID.test(value)) {
    throw new JobNotFoundError(batchId, printable(value), "job ids look like job-00001");
  }
  return value;
}

const CANCELLATION_ID = /^c-[0-9a-z]{1,12}-[0-9a-f]{8}$/;

/** A cancellation id from a path; one not of stepbatch's form names nothing: 404. */
export function assertCancellationId(batchId: string, value: string | undefined): string {
  if (!value || !CANCELLATION_ID.test(value))
    throw new CancellationNotFoundError(batchId, printable(value));
  return value;
}

/** What an Idempotency-Key's repeat is compared by: the request's body, hashed. */
export const requestHashOf = (body: unknown): string =>
  createHash("sha256").update(JSON.stringify(body)).digest("hex");

/** An Idempotency-Key header: 1 to 128 letters, digits, '.', ':', '_' or '-'. */
export function assertIdempotencyKey(value: string | undefined): string | undefined {
  if (value !== undefined && !/^[\w.:-]{1,128}$/.test(value))
    throw new ValidationError(
      "Idempotency-Key must be 1 to 128 letters, digits, '.', ':', '_' or '-'",
    );
  return value;
}

export const receiptQuerySchema = z
  .object({
    limit: queryCount("limit", 1, RECEIPT_PAGE).optional(),
    cursor: z.string().max(2048).optional(),
  })
  .strict();

function printable(value: string | undefined): string {
  return `'${(value ?? "").slice(0, 80).replace(/[^\x20-\x7e]/g, "?")}'`;
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
  if (jsonDepth(raw, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) {
    throw new ValidationError(`request body must be nested at most ${MAX_BODY_DEPTH} levels deep`);
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
