import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import {
  type Api,
  client,
  type E2ETarget,
  executionOf,
  job,
  waitFor,
  waitForBatchEnd,
} from "../helpers/e2e.ts";

// Fault injection needs phases the deployed stack does not have (short timeouts, a phase that
// ignores its abort signal), so this suite runs its own local stack built from those props.
let stack: LocalStack;
let target: E2ETarget;
let api: Api;
beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    stackProps: { config: "test/fixtures/fault-pipeline.ts" },
  });
  const { SFNClient } = await import("@aws-sdk/client-sfn");
  target = {
    apiUrl: stack.apiUrl,
    token: stack.token,
    sfn: new SFNClient({ endpoint: stack.endpoints.stepfunctions }),
  } as E2ETarget;
  api = client(target);
}, 60_000);
afterAll(async () => stack?.stop());

describe("a phase that runs past its timeout", () => {
  it("saves what it did, is retried from its checkpoint, then fails the job with PhaseTimeout while the batch goes on", async () => {
    // Prepare: Ingest has 5 s; 20 pages over 20 s cannot fit, so it stops 3 s before the end.
    const submitted = await api.submit({
      jobs: [job("too-long", { pages: 20, workMs: 20_000 }), job("fine", { pages: 1, workMs: 10 })],
    });
    // Act
    const ended = await waitForBatchEnd(api, submitted.body.batchId, 60_000);
    const tooLong = await api.job(submitted.body.batchId, "job-00001");
    const results = await api.results(submitted.body.batchId);
    // Assess
    expect(ended.status).toBe("completed_with_errors");
    expect(ended.progress).toMatchObject({ failed: 1, succeeded: 1 });
    expect(tooLong.body.error).toMatchObject({
      name: "PhaseTimeout",
      message: expect.stringMatching(/ran out of time/),
    });
    expect(tooLong.body.phases[0]).toMatchObject({ name: "Ingest", attempt: 3 });
    const saved = results.body.partialResults.processedJobs.find((j: any) => j.name === "too-long");
    expect(saved.phases).toEqual([
      expect.objectContaining({ phase: "Ingest", status: "partial", attempt: 3 }),
    ]);
    // Each attempt went on from the last checkpoint: every page once, in order, none done twice.
    const output = await api.call(
      "GET",
      `/batches/${submitted.body.batchId}/jobs/job-00001/output?items=100`,
    );
    const pages = output.body.phases[0].items.map((item: any) => item.page);
    expect(pages.length).toBeGreaterThan(2);
    expect(pages).toEqual(Array.from({ length: pages.length }, (_, i) => i + 1));
    expect(saved.numbers.pages).toBe(pages.length);
  }, 90_000);

  it("fails the job with a timeout when the phase ignores its signal and outlives the Lambda", async () => {
    const submitted = await api.submit({
      jobs: [{ name: "stuck", input: { pages: 1, workMs: 10, stallMs: 10_000 } }],
    });
    const ended = await waitForBatchEnd(api, submitted.body.batchId, 60_000);
    const stuck = await api.job(submitted.body.batchId, "job-00001");
    expect(ended.status).toBe("failed");
    // middy ends the invocation just before Lambda would (timeoutEarlyInMillis), on AWS as here.
    expect(stuck.body.error).toMatchObject({
      name: "TimeoutError",
      message: expect.stringMatching(/aborted/),
    });
    expect(stuck.body.phases.find((p: any) => p.name === "Stall")).toMatchObject({ attempt: 3 });
  }, 90_000);
});

describe("a cancel that arrives while Commit runs", () => {
  it("lets the commit finish, reports it as in_commit, and cancels the rest", async () => {
    // Prepare
    // 1.5 s per phase: Ingest fits its 5 s timeout (it stops 3 s early), Commit has 5 minutes.
    const submitted = await api.submit({
      jobs: [
        job("committer", { pages: 10, workMs: 1500 }),
        job("waiting", { pages: 10, workMs: 1500 }),
      ],
      concurrency: 1,
    });
    const { batchId, executionArn } = submitted.body;
    await waitFor(
      async () => (await api.job(batchId, "job-00001")).body.inCommit,
      "the commit to start",
      30_000,
    );
    // Act
    const cancelled = await api.cancel(batchId, { reason: "during commit" });
    const ended = await waitForBatchEnd(api, batchId);
    const committer = await api.job(batchId, "job-00001");
    // Assess
    expect(cancelled.body).toMatchObject({
      status: "cancelled",
      inCommit: ["committer"],
      jobs: ["waiting"],
      jobsCancelled: 1,
    });
    expect(committer.body).toMatchObject({
      status: "succeeded",
      inCommit: false,
      numbers: expect.objectContaining({ pages: 20 }),
    });
    expect(ended).toMatchObject({ status: "cancelled", progress: { succeeded: 1, cancelled: 1 } });
    expect((await executionOf(target, executionArn)).status).toBe("ABORTED");
    const results = await api.results(batchId);
    expect(results.body.partialResults.processedJobs[0].phases).toContainEqual(
      expect.objectContaining({ phase: "Commit", status: "complete", itemCount: 10 }),
    );
  }, 60_000);
});

describe("cancel and completion at the same instant", () => {
  it("ends every job exactly once and every batch consistently, round after round", async () => {
    // Prepare: measure how long one short job takes here, then cancel each round at a moment
    // spread from well before to well after that, so some cancels win and some completions win.
    const input = { pages: 1, workMs: 1, stallMs: 0 };
    const probe = await api.submit({ jobs: [{ name: "probe", input }] });
    const probed = await waitForBatchEnd(api, probe.body.batchId);
    const probeJob = (await api.job(probe.body.batchId, "job-00001")).body;
    const takesMs = Date.parse(probeJob.endedAt) - Date.parse(probed.createdAt);
    const rounds = 24;
    const tally = { cancelledFirst: 0, completedFirst: 0, inCommit: 0 };
    // One round at a time: concurrent rounds would load the machine and skew the timing.
    const outcomes = [];
    for (let i = 0; i < rounds; i++) {
      const submitted = await api.submit({ jobs: [{ name: `race-${i}`, input }] });
      await new Promise((resolve) => setTimeout(resolve, (takesMs * 1.5 * i) / rounds));
      // Act
      const cancel = await api.cancel(submitted.body.batchId, { reason: "race" });
      const ended = await waitForBatchEnd(api, submitted.body.batchId);
      outcomes.push({
        cancel: cancel.body,
        ended,
        job: (await api.job(submitted.body.batchId, "job-00001")).body,
      });
    }
    // Assess
    for (const { cancel, ended, job: raced } of outcomes) {
      expect(["succeeded", "cancelled"]).toContain(raced.status);
      expect(ended.progress.succeeded + ended.progress.cancelled).toBe(1);
      expect(ended.progress.running + ended.progress.queued + ended.progress.failed).toBe(0);
      if (cancel.status === "no_jobs_to_cancel") {
        expect(ended.status).toBe("succeeded");
        tally.completedFirst++;
      } else {
        expect(ended.status).toBe("cancelled");
        if (raced.status === "cancelled") tally.cancelledFirst++;
        else tally.completedFirst++;
        if (cancel.inCommit.length > 0) tally.inCommit++;
      }
      if (raced.status === "succeeded")
        expect(raced.phases.map((p: any) => p.status)).toEqual([
          "succeeded",
          "succeeded",
          "succeeded",
        ]);
    }
    expect(tally.cancelledFirst + tally.completedFirst).toBe(rounds);
  }, 120_000);
});
