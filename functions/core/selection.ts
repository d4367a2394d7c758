/**
 * Choosing jobs to cancel by what they are: their status, the phase they are in, a pattern of
 * their names, or a field of their input. A preview (`dryRun`) keeps what it chose under a
 * `confirmToken`, so the cancel that follows acts on exactly that snapshot.
 */
import { randomBytes } from "node:crypto";
import type { JobRecord, JobStatus } from "./model.ts";

export interface JobFilter {
  /** Jobs in one of these statuses. */
  readonly status?: readonly JobStatus[];
  /** Jobs whose current (or last) phase is this one. */
  readonly phase?: string;
  /** Jobs whose name matches this pattern: `*` any run of characters, `?` one character. */
  readonly name?: string;
  /** Jobs whose input has these values at these top-level fields. */
  readonly input?: Readonly<Record<string, string | number | boolean | null>>;
}

/** A previewed selection, kept until it is confirmed or expires. */
export interface SelectionRecord {
  readonly token: string;
  readonly batchId: string;
  readonly filter: JobFilter;
  readonly jobIds: readonly string[];
  readonly createdAt: string;
  /** Epoch seconds after which the token is refused. */
  readonly expiresAt: number;
}

/** How long a preview's token may be confirmed. */
export const SELECTION_TTL_SECONDS = 60 * 60;

export const newConfirmToken = (): string => `s-${randomBytes(12).toString("hex")}`;

/** Whether a job is one the filter chooses. Every criterion given must hold. */
export function matches(job: JobRecord, filter: JobFilter): boolean {
  if (filter.status && !filter.status.includes(job.status)) return false;
  if (filter.phase !== undefined && job.phase !== filter.phase) return false;
  if (filter.name !== undefined && !namePattern(filter.name).test(job.name)) return false;
  for (const [field, value] of Object.entries(filter.input ?? {}))
    if (job.input[field] !== value) return false;
  return true;
}

/** A name pattern as a regular expression: `*` and `?` are wildcards, everything else is itself. */
function namePattern(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped.replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "su");
}
