import { MissingTokenError } from "../client/connection.ts";
import {
  InvalidIdError,
  StepbatchApiError,
  StepbatchConnectionError,
  StepbatchTimeoutError,
} from "../client/stepbatch-client.ts";
import type { ReadBackOutcome } from "./cancel-readback.ts";

/** Exit codes scripts can rely on (documented in the README and in `stepbatch --help`). */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  auth: 5,
  unreachable: 6,
  rejected: 7,
  /** `watch`: the batch ended, but not as succeeded. */
  batchNotSucceeded: 8,
  /** A cancel request timed out and reading the batch back did not show it applied. */
  cancelUnconfirmed: 9,
  /** Ctrl-C while watching: the batch itself keeps running. */
  interrupted: 130,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0    success (watch: the batch succeeded)
  1    unexpected error
  2    bad command line, e.g. an id that cannot be one (empty, "." or "..", with "/")
  3    batch or job not found (404)
  4    conflict (409): job already finished, in its final commit, still active, or Idempotency-Key reused
  5    missing or wrong token (401/403)
  6    the API cannot be reached, or did not answer in time (--timeout)
  7    the API refused the request as invalid (400/413)
  8    watch: the batch ended without succeeding (completed_with_errors, failed or cancelled)
  9    a cancel request timed out and the batch, read back, shows no cancel yet: it may still
       be applied (check with stepbatch status); a cancel that timed out but shows as applied
       exits 0, one that can no longer win (job finished or in its final commit) exits 4
  130  Ctrl-C while watching (the batch keeps running)`;

/** Maps an error to its exit code and one line for the user (never a stack trace). */
export function describeFailure(error: unknown): { code: number; line: string } {
  if (error instanceof StepbatchApiError) {
    const code =
      error.status === 404
        ? EXIT.notFound
        : error.status === 409
          ? EXIT.conflict
          : error.status === 401 || error.status === 403
            ? EXIT.auth
            : error.status < 500
              ? EXIT.rejected
              : EXIT.error;
    return { code, line: `${error.message} (${error.status} ${error.code})` };
  }
  if (error instanceof StepbatchConnectionError)
    return {
      code: EXIT.unreachable,
      line: `${error.message}; is the local stack running (npx stepbatch dev)?`,
    };
  if (error instanceof StepbatchTimeoutError)
    return {
      code: EXIT.unreachable,
      line: `${error.message}; it may be overloaded: --timeout <seconds> waits longer`,
    };
  if (error instanceof MissingTokenError) return { code: EXIT.auth, line: error.message };
  if (error instanceof UsageError || error instanceof InvalidIdError)
    return { code: EXIT.usage, line: error.message };
  return { code: EXIT.error, line: (error as Error)?.message ?? String(error) };
}

/** The exit code of a cancel that timed out, from what reading the batch back showed. */
export const READ_BACK_EXIT: Readonly<Record<ReadBackOutcome, number>> = {
  took_effect: EXIT.ok,
  nothing_to_cancel: EXIT.ok,
  not_cancelled: EXIT.conflict,
  unconfirmed: EXIT.cancelUnconfirmed,
};

/** A mistake in the command line, found after commander parsed it. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
