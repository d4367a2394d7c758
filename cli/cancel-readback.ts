import {
  type BatchView,
  type JobView,
  type StepbatchClient,
  type StepbatchTimeoutError,
  seconds,
} from "../client/stepbatch-client.ts";
import { nameKey } from "../functions/core/model.ts";

/** What a cancel request asked for: the whole batch, some of its jobs, or one job. */
export type CancelTarget =
  | { readonly scope: "batch"; readonly batchId: string }
  | { readonly scope: "subset"; readonly batchId: string; readonly jobs: readonly string[] }
  | { readonly scope: "job"; readonly batchId: string; readonly jobId: string };

/**
 * What reading the batch back showed after a cancel request timed out:
 * - `took_effect`: the cancel is recorded (cancelling or cancelled);
 * - `nothing_to_cancel`: nothing was left to cancel (the batch, or every job asked for, had ended),
 *   which the API answers with a 200 too;
 * - `not_cancelled`: the job finished, or is in its final commit, which the API answers with a 409;
 * - `unconfirmed`: nothing shows the cancel yet, or the read-back failed: it may still be applied.
 */
export type ReadBackOutcome = "took_effect" | "nothing_to_cancel" | "not_cancelled" | "unconfirmed";

export interface CancelReadBack {
  readonly timedOut: true;
  readonly outcome: ReadBackOutcome;
  /** One line, for people and assistants; `unconfirmed` ones say the cancel may still be applied. */
  readonly message: string;
  readonly batchId: string;
  /** The batch's status (batch, subset) or the job's (job), as read back. */
  readonly status?: string;
  readonly progress?: BatchView["progress"];
  readonly job?: Pick<JobView, "jobId" | "name" | "status" | "wasInPhase" | "inCommit">;
  /** Subset: each job asked for, with its status as read back, or `not_found`. */
  readonly jobs?: Record<string, string>;
}

const ENDED = new Set(["succeeded", "completed_with_errors", "failed", "cancelled"]);

/**
 * After a cancel request timed out, reads the batch (or the job) back and says what is true: a
 * cancel under load can take longer than the client waits and still take effect.
 */
export async function readBackCancel(
  client: StepbatchClient,
  target: CancelTarget,
  timeout: StepbatchTimeoutError,
): Promise<CancelReadBack> {
  const lead = `The cancel request timed out after ${seconds(timeout.timeoutMs)}`;
  const { batchId } = target;
  try {
    if (target.scope === "job")
      return jobReadBack(lead, batchId, await client.getJob(batchId, target.jobId));
    // Every job (a batch holds at most 1,000), so a subset's items are all found.
    const view = await client.getBatch(batchId, { jobsLimit: 1000 });
    return target.scope === "batch"
      ? batchReadBack(lead, view)
      : subsetReadBack(lead, view, target.jobs);
  } catch (error) {
    return {
      timedOut: true,
      outcome: "unconfirmed",
      batchId,
      message: `${lead}, and reading batch ${batchId} back failed too (${(error as Error).message}): the cancel may or may not have been applied`,
    };
  }
}

function batchReadBack(lead: string, view: BatchView): CancelReadBack {
  const p = view.progress;
  const counts = `${p.cancelled} of ${p.total} jobs cancelled`;
  const base = { timedOut: true, batchId: view.batchId, status: view.status, progress: p } as const;
  if (view.status === "cancelling" || view.status === "cancelled")
    return {
      ...base,
      outcome: "took_effect",
      message: `${lead}; batch ${view.batchId} is now ${view.status}: ${counts}`,
    };
  if (ENDED.has(view.status))
    return {
      ...base,
      outcome: "nothing_to_cancel",
      message: `${lead}; batch ${view.batchId} ended as ${view.status}: nothing left to cancel`,
    };
  if (view.cancel)
    return {
      ...base,
      outcome: "took_effect",
      message: `${lead}; batch ${view.batchId} has its cancel recorded and is being stopped: ${counts}`,
    };
  return {
    ...base,
    outcome: "unconfirmed",
    message: `${lead}; batch ${view.batchId} is still ${view.status} with no cancel recorded (${counts}): the cancel may still be applied`,
  };
}

function jobReadBack(lead: string, batchId: string, job: JobView): CancelReadBack {
  const { jobId, name, status, wasInPhase, inCommit } = job;
  const base = {
    timedOut: true,
    batchId,
    status,
    job: { jobId, name, status, wasInPhase, inCommit },
  } as const;
  const which = `job ${jobId} (${name}) of batch ${batchId}`;
  if (status === "cancelled")
    return {
      ...base,
      outcome: "took_effect",
      message: `${lead}; ${which} is now cancelled${wasInPhase ? ` (stopped in ${wasInPhase})` : ""}`,
    };
  if (ENDED.has(status))
    return {
      ...base,
      outcome: "not_cancelled",
      message: `${lead}; ${which} had already finished as ${status}: not cancelled`,
    };
  // A commit under way is never interrupted, so this cancel cannot win any more.
  if (inCommit)
    return {
      ...base,
      outcome: "not_cancelled",
      message: `${lead}; ${which} is in its final commit, which a cancel never interrupts: it will complete`,
    };
  if (job.cancel)
    return {
      ...base,
      outcome: "took_effect",
      message: `${lead}; ${which} is being cancelled: the cancel is recorded and its ${job.phase ?? "phase"} is stopping`,
    };
  return {
    ...base,
    outcome: "unconfirmed",
    message: `${lead}; ${which} is still ${status} with no cancel recorded: the cancel may still be applied`,
  };
}

function subsetReadBack(lead: string, view: BatchView, items: readonly string[]): CancelReadBack {
  // Items are job ids or names, as the API takes them.
  const jobs = Object.fromEntries(
    items.map((item) => [
      item,
      view.jobs.find((j) => j.jobId === item || nameKey(j.name) === nameKey(item))?.status ??
        "not_found",
    ]),
  );
  const statuses = Object.values(jobs);
  const cancelled = statuses.filter((s) => s === "cancelled").length;
  const pending = statuses.filter((s) => s === "queued" || s === "running").length;
  const listed = Object.entries(jobs)
    .slice(0, 10)
    .map(([item, s]) => `${item} ${s.replace("_", " ")}`)
    .join(", ");
  const more = items.length > 10 ? `, and ${items.length - 10} more` : "";
  const shows = `batch ${view.batchId} shows ${cancelled} of ${items.length} requested jobs cancelled (${listed}${more})`;
  const outcome: ReadBackOutcome =
    cancelled > 0 ? "took_effect" : pending === 0 ? "nothing_to_cancel" : "unconfirmed";
  return {
    timedOut: true,
    outcome,
    batchId: view.batchId,
    status: view.status,
    progress: view.progress,
    jobs,
    message:
      outcome === "unconfirmed"
        ? `${lead}; ${shows}: the cancel may still be applied`
        : `${lead}; ${shows}`,
  };
}
