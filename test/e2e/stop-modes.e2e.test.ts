import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Api,
  client,
  type E2ETarget,
  executionOf,
  job,
  startTarget,
  waitFor,
  waitForBatchEnd,
  waitForExecutionEnd,
  waitForRunning,
} from "../helpers/e2e.ts";

let target: E2ETarget;
let api: Api;
beforeAll(async () => {
  target = await startTarget();
  api = client(target);
}, 60_000);
afterAll(async () => target?.close());

/**
 * A batch of one slow job (about 1.5 s per phase) ahead of two quick ones, one job at a time; it
 * answers once the slow job is in its Ingest phase.
 */
async function slowJobRunningIngest(name: string) {
  const submitted = await api.submit({
    name,
    concurrency: 1,
    jobs: [job("slow", { pages: 3, workMs: 1500 }), job("quick-1"), job("quick-2")],
  });
  expect(submitted.status).toBe(202);
  const { batchId, executionArn } = submitted.body;
  await waitFor(
    async () =>
      (await api.batch(batchId)).body.current?.some((c: any) => c.phase === "Ingest")
        ? true
        : undefined,
    "the slow job to be in Ingest",
    20_000,
    50,
  );
  return { batchId, executionArn };
}

const phasesOf = async (batchId: string, jobId: string) =>
  (await api.job(batchId, jobId)).body.phases.map((p: any) => [p.name, p.status]);

const receipt = async (batchId: string, cancellationId: string) =>
  api.call("GET", `/batches/${batchId}/cancellations/${cancellationId}`);

describe("stop modes on the local stack", () => {
  it("drain: the running job finishes all its phases, queued jobs never start, the batch ends cancelled", async () => {
    // Prepare
    const { batchId, executionArn } = await slowJobRunningIngest("drain");
    // Act
    const cancel = await api.cancel(batchId, { mode: "drain", reason: "wrong tickers" });
    const ended = await waitForBatchEnd(api, batchId);
    const settled = await receipt(batchId, cancel.body.cancellationId);
    // Assess
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({
      status: "cancelling",
      mode: "drain",
      jobsCancelled: 2,
      draining: [{ name: "slow", phase: "Ingest" }],
    });
    expect(ended).toMatchObject({ status: "cancelled" });
    expect(ended.progress).toMatchObject({ succeeded: 1, cancelled: 2 });
    expect(await phasesOf(batchId, "job-00001")).toEqual([
      ["Ingest", "succeeded"],
      ["Digest", "succeeded"],
      ["Commit", "succeeded"],
    ]);
    expect(await phasesOf(batchId, "job-00002")).toEqual([]);
    // The execution was let finish, not stopped.
    const execution = await waitForExecutionEnd(target, executionArn);
    expect(execution.status).toBe("SUCCEEDED");
    expect(settled.status).toBe(200);
    expect(settled.body).toMatchObject({ scope: "batch", mode: "drain", pending: 0 });
    expect(settled.body.jobs.map((j: any) => [j.name, j.outcome])).toEqual([
      ["slow", "drained"],
      ["quick-1", "cancelled_before_start"],
      ["quick-2", "cancelled_before_start"],
    ]);
    for (const outcome of settled.body.jobs) expect(Date.parse(outcome.at)).toBeGreaterThan(0);
  });

  it("after-phase: the running job finishes Ingest and starts no later phase", async () => {
    // Prepare
    const { batchId } = await slowJobRunningIngest("after-phase");
    // Act
    const cancel = await api.cancel(batchId, { mode: "after-phase" });
    const ended = await waitForBatchEnd(api, batchId);
    const slow = await api.job(batchId, "job-00001");
    const settled = await receipt(batchId, cancel.body.cancellationId);
    // Assess
    expect(cancel.body).toMatchObject({
      status: "cancelling",
      mode: "after-phase",
      stoppingAfterPhase: [{ name: "slow", phase: "Ingest" }],
    });
    expect(ended.status).toBe("cancelled");
    expect(slow.body).toMatchObject({ status: "cancelled", wasInPhase: "Ingest" });
    expect(await phasesOf(batchId, "job-00001")).toEqual([["Ingest", "succeeded"]]);
    expect(settled.body.jobs.map((j: any) => [j.name, j.outcome])).toEqual([
      ["slow", "finished_phase_then_stopped"],
      ["quick-1", "cancelled_before_start"],
      ["quick-2", "cancelled_before_start"],
    ]);
  });

  it("now: the running phase stops at a safe point, and the receipt shows it settling", async () => {
    // Prepare
    const { batchId, executionArn } = await slowJobRunningIngest("now");
    // Act
    const cancel = await api.cancel(batchId, { reason: "stop it" });
    const first = await receipt(batchId, cancel.body.cancellationId);
    const settled = await waitFor(
      async () => {
        const answer = await receipt(batchId, cancel.body.cancellationId);
        return answer.body.pending === 0 ? answer : undefined;
      },
      "the receipt to settle",
      20_000,
      100,
    );
    // Assess
    expect(cancel.body).toMatchObject({ status: "cancelled", mode: "now" });
    expect((await executionOf(target, executionArn)).status).toBe("ABORTED");
    expect(first.body.jobs.map((j: any) => j.name)).toEqual(["slow", "quick-1", "quick-2"]);
    expect(settled.body.jobs.map((j: any) => [j.name, j.outcome, j.phase])).toEqual([
      ["slow", "stopped_at_safe_point", "Ingest"],
      ["quick-1", "cancelled_before_start", null],
      ["quick-2", "cancelled_before_start", null],
    ]);
    expect(Date.parse(settled.body.jobs[0].at)).toBeGreaterThanOrEqual(
      Date.parse(settled.body.requestedAt),
    );
  });

  it("cancels one running job after its phase, while the others go on", async () => {
    // Prepare
    const { batchId } = await slowJobRunningIngest("one job after its phase");
    // Act
    const cancel = await api.cancelJob(batchId, "job-00001", { mode: "after-phase" });
    const ended = await waitForBatchEnd(api, batchId);
    const settled = await receipt(batchId, cancel.body.cancellationId);
    // Assess
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({
      status: "stopping_after_phase",
      stopsAfterPhase: "Ingest",
    });
    expect(ended.progress).toMatchObject({ cancelled: 1, succeeded: 2 });
    expect(await phasesOf(batchId, "job-00001")).toEqual([["Ingest", "succeeded"]]);
    expect(settled.body).toMatchObject({ scope: "job", jobIds: ["job-00001"], pending: 0 });
    expect(settled.body.jobs[0]).toMatchObject({ outcome: "finished_phase_then_stopped" });
  });

  it("answers a cancel repeated with the same Idempotency-Key with the first cancel's receipt", async () => {
    // Prepare
    const { batchId } = await slowJobRunningIngest("idempotent cancel");
    const key = { "Idempotency-Key": `cancel-${batchId}` };
    // Act
    const first = await api.call(
      "POST",
      `/batches/${batchId}/cancel`,
      { jobs: ["quick-1"] },
      {
        headers: key,
      },
    );
    const again = await api.call(
      "POST",
      `/batches/${batchId}/cancel`,
      { jobs: ["quick-1"] },
      {
        headers: key,
      },
    );
    const other = await api.call(
      "POST",
      `/batches/${batchId}/cancel`,
      { jobs: ["quick-2"] },
      {
        headers: key,
      },
    );
    // Assess
    expect(first.status).toBe(200);
    expect(first.body.cancellationId).toMatch(/^c-/);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      idempotentReplay: true,
      cancellationId: first.body.cancellationId,
      scope: "subset",
      jobs: [{ name: "quick-1", outcome: "cancelled_before_start" }],
    });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("IDEMPOTENCY_KEY_REUSED");
    await api.cancel(batchId);
    await waitForBatchEnd(api, batchId);
  });

  it("refuses a mode it does not know, and answers 404 for a receipt that does not exist", async () => {
    // Prepare
    const { body } = await api.submit({ jobs: ["x"] });
    // Act
    const badMode = await api.cancel(body.batchId, { mode: "later" });
    const badGrace = await api.cancel(body.batchId, { graceSeconds: 0 });
    const unknown = await receipt(body.batchId, "c-zzzzzzzz-00000000");
    const malformed = await receipt(body.batchId, "not-a-cancellation");
    // Assess
    expect(badMode.status).toBe(400);
    expect(badMode.body.error.message).toMatch(/mode must be one of now, drain, after-phase/);
    expect(badGrace.status).toBe(400);
    expect(badGrace.body.error.message).toMatch(/graceSeconds must be at least 1/);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("CANCELLATION_NOT_FOUND");
    expect(malformed.status).toBe(404);
    await waitForBatchEnd(api, body.batchId);
  });
});

describe("a selection previewed, then cancelled as previewed", () => {
  it("previews the jobs a filter chooses, and cancels exactly those with the confirmToken", async () => {
    // Prepare: tickers in two sectors, one job at a time, the first slow.
    const submitted = await api.submit({
      name: "sectors",
      concurrency: 1,
      jobs: [
        { name: "RY.TO", input: { pages: 3, workMs: 1500, sector: "banks" } },
        { name: "TD.TO", input: { pages: 1, workMs: 0, sector: "banks" } },
        { name: "SU.TO", input: { pages: 1, workMs: 0, sector: "energy" } },
        { name: "BNS.TO", input: { pages: 1, workMs: 0, sector: "banks" } },
      ],
    });
    const { batchId } = submitted.body;
    await waitForRunning(api, batchId, 1); // RY.TO, the slow one: the others wait behind it
    // Act
    const preview = await api.cancel(batchId, {
      filter: { status: ["queued"], input: { sector: "banks" } },
      dryRun: true,
    });
    const unchanged = await api.batch(batchId);
    const confirmed = await api.cancel(batchId, {
      confirmToken: preview.body.confirmToken,
      reason: "banks were a mistake",
    });
    const ended = await waitForBatchEnd(api, batchId);
    // Assess
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ dryRun: true, count: 2 });
    expect(preview.body.jobs.map((j: any) => j.name)).toEqual(["TD.TO", "BNS.TO"]);
    expect(preview.body.confirmToken).toMatch(/^s-/);
    expect(unchanged.body.progress.cancelled).toBe(0);
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({
      result: 1,
      selection: { selected: 2, endedMeanwhile: [] },
      outcomes: { "job-00002": { code: 0 }, "job-00004": { code: 0 } },
    });
    expect(ended.progress).toMatchObject({ succeeded: 2, cancelled: 2 });
  });

  it("says which of the previewed jobs had ended before the confirm, and cancels the rest", async () => {
    // Prepare: a preview of every job, then one of them ends.
    const submitted = await api.submit({
      concurrency: 1,
      jobs: [job("quick"), job("slow", { pages: 3, workMs: 1500 }), job("later")],
    });
    const { batchId } = submitted.body;
    const preview = await api.cancel(batchId, { filter: { name: "*" }, dryRun: true });
    await waitFor(
      async () =>
        (await api.job(batchId, "job-00001")).body.status === "succeeded" ? true : undefined,
      "the quick job to end",
      20_000,
      50,
    );
    // Act
    const confirmed = await api.cancel(batchId, { confirmToken: preview.body.confirmToken });
    await waitForBatchEnd(api, batchId);
    // Assess
    expect(preview.body.count).toBe(3);
    expect(confirmed.body.result).toBe(2);
    expect(confirmed.body.selection).toMatchObject({ selected: 3, endedMeanwhile: ["quick"] });
    expect(confirmed.body.message).toMatch(/1 of the previewed jobs had ended since the preview/);
  });

  it("refuses a confirmToken it never gave, and a dry run without a filter", async () => {
    // Prepare
    const { body } = await api.submit({ jobs: ["x"] });
    // Act
    const unknown = await api.cancel(body.batchId, { confirmToken: `s-${"0".repeat(24)}` });
    const noFilter = await api.cancel(body.batchId, { dryRun: true });
    const both = await api.cancel(body.batchId, { jobs: ["x"], filter: { name: "x" } });
    // Assess
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/unknown or expired.*preview again/);
    expect(noFilter.status).toBe(400);
    expect(noFilter.body.error.message).toMatch(/dryRun previews a filter/);
    expect(both.status).toBe(400);
    expect(both.body.error.message).toMatch(/at most one of jobs, filter and confirmToken/);
    await waitForBatchEnd(api, body.batchId);
  });
});
