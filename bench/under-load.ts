import type { StepbatchClient } from "../client/stepbatch-client.ts";

const ENDED = ["succeeded", "completed_with_errors", "failed", "cancelled"];

export interface CancelUnderLoad {
  /** Phases running (per the batches' records) when the cancels were sent. */
  readonly running: number;
  /** Each cancel request: how long it took, what it cancelled, the HTTP status it got. */
  readonly requests: readonly { ms: number; kind: "batch" | "subset" | "job"; status: number }[];
}

export interface CancelUnderLoadOptions {
  readonly batches: number;
  readonly jobsPerBatch: number;
  readonly wait: <T>(check: () => Promise<T | undefined | false>, timeoutMs?: number) => Promise<T>;
  readonly progress: (line: string) => void;
}

/**
 * Cancels under load: `batches` batches of `jobsPerBatch` long jobs at concurrency 40 keep the
 * phase functions busy (each running phase polling its batch's signal); once as many run as will,
 * 10 cancel requests per batch are sent at once: the batch, 5 of its jobs (a subset), and 8 single
 * jobs.
 */
export async function cancelUnderLoad(
  api: StepbatchClient,
  options: {
    readonly batches: number;
    readonly jobsPerBatch: number;
    readonly wait: <T>(
      check: () => Promise<T | undefined | false>,
      timeoutMs?: number,
    ) => Promise<T>;
    readonly progress: (line: string) => void;
  },
): Promise<CancelUnderLoad> {
  const concurrency = 40;
  // The cancel functions are warm, as on a stack in use: one round of the same cancels first, on
  // small batches of their own (a burst at a cold function is a burst of cold starts, here all on
  // this machine's cores).
  const warmUp = await Promise.all(
    Array.from({ length: options.batches }, (_, b) =>
      api.submit({
        name: `warm-up ${b}`,
        jobs: Array.from({ length: 15 }, (_, i) => ({ name: `warm${b}-${i}`, input: {} })),
        concurrency: 1,
      }),
    ),
  );
  await sendCancels(api, warmUp);
  await settled(api, warmUp, options.wait);

  const submitted = await Promise.all(
    Array.from({ length: options.batches }, (_, b) =>
      api.submit({
        name: `load ${b}`,
        jobs: Array.from({ length: options.jobsPerBatch }, (_, i) => ({
          name: `load${b}-${i}`,
          input: { pages: 100, workMs: 120_000 },
        })),
        concurrency,
      }),
    ),
  );
  const target = options.batches * Math.min(concurrency, options.jobsPerBatch);
  const runningNow = async () => {
    const views = await Promise.all(
      submitted.map((batch) => api.getBatch(batch.batchId, { jobsLimit: 1 })),
    );
    return views.reduce((sum, view) => sum + view.progress.running, 0);
  };
  // Locally at most 10 sandboxes per function run at once (the rest wait for one): wait until as
  // many phases run as will, unchanged for 3 s.
  let most = 0;
  let since = Date.now();
  await options.wait(async () => {
    const running = await runningNow();
    options.progress(`${running} of ${target} phases running`);
    if (running > most) {
      most = running;
      since = Date.now();
    }
    return running >= target || (most > 0 && Date.now() - since > 3_000);
  }, 600_000);
  const running = await runningNow();

  const requests = await sendCancels(api, submitted);
  await settled(api, submitted, options.wait);
  return { running, requests };
}

type Kind = "batch" | "subset" | "job";

/** Per batch, all at once: a batch cancel, a cancel of 5 of its jobs, and 8 cancels of one job. */
async function sendCancels(
  api: StepbatchClient,
  batches: readonly { batchId: string; jobs: readonly { jobId: string }[] }[],
) {
  const requests: { ms: number; kind: Kind; status: number }[] = [];
  const timed = async (kind: Kind, request: () => Promise<unknown>) => {
    const started = performance.now();
    const status = await request().then(
      () => 200,
      (error: { status?: number }) => error.status ?? 0,
    );
    requests.push({ ms: performance.now() - started, kind, status });
  };
  const reason = "bench: cancel under load";
  await Promise.all(
    batches.flatMap(({ batchId, jobs }) => {
      const ids = jobs.map((job) => job.jobId);
      return [
        timed("batch", () => api.cancelBatch(batchId, { reason })),
        timed("subset", () => api.cancelJobs(batchId, ids.slice(10, 15), { reason })),
        ...ids
          .slice(0, 8)
          .map((jobId) => timed("job", () => api.cancelJob(batchId, jobId, { reason }))),
      ];
    }),
  );
  return requests;
}

/** Waits until every one of these batches has ended. */
async function settled(
  api: StepbatchClient,
  batches: readonly { batchId: string }[],
  wait: CancelUnderLoadOptions["wait"],
) {
  await Promise.all(
    batches.map((batch) =>
      wait(async () =>
        ENDED.includes((await api.getBatch(batch.batchId, { jobsLimit: 1 })).status),
      ),
    ),
  );
}
