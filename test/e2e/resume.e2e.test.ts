import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Api,
  client,
  type E2ETarget,
  job,
  startTarget,
  waitFor,
  waitForBatchEnd,
  waitForExecutionEnd,
  waitForQuiesce,
} from "../helpers/e2e.ts";

let target: E2ETarget;
let api: Api;
beforeAll(async () => {
  target = await startTarget();
  api = client(target);
}, 60_000);
afterAll(async () => target?.close());

/** The pages a job's phase emitted (the demo emits one item per page it processed). */
async function pagesOf(batchId: string, jobId: string, phase: string): Promise<number[]> {
  const output = await api.call("GET", `/batches/${batchId}/jobs/${jobId}/output?items=1000`);
  expect(output.status).toBe(200);
  const found = output.body.phases.find((p: any) => p.phase === phase);
  return (found?.items ?? []).map((item: any) => item.page);
}

/**
 * One job at a time: "first" succeeds, "slow" (8 pages over 4 s per phase) is cancelled half-way
 * through its Ingest, "never" never starts. Answers once the batch has ended.
 */
async function cancelledHalfWay(name: string) {
  const submitted = await api.submit({
    name,
    concurrency: 1,
    jobs: [
      job("first", { pages: 2, workMs: 0 }),
      job("slow", { pages: 8, workMs: 4000 }),
      job("never", { pages: 2, workMs: 0 }),
    ],
  });
  expect(submitted.status).toBe(202);
  const { batchId } = submitted.body;
  await waitFor(
    async () => {
      const slow = (await api.job(batchId, "job-00002")).body;
      return (slow.items?.Ingest ?? 0) >= 3 ? true : undefined;
    },
    "slow to be part-way through Ingest",
    30_000,
    50,
  );
  const cancel = await api.cancel(batchId, { reason: "wrong inputs" });
  expect(cancel.status).toBe(200);
  const ended = await waitForBatchEnd(api, batchId);
  expect(ended.status).toBe("cancelled");
  await waitForQuiesce(api, batchId);
  return { batchId, cancellationId: cancel.body.cancellationId as string };
}

describe("resume on the local stack", () => {
  it("runs the cancelled jobs again in a linked execution, continuing from checkpoints, and never reruns what succeeded", async () => {
    // Prepare
    const { batchId, cancellationId } = await cancelledHalfWay("resume");
    const firstBefore = (await api.job(batchId, "job-00001")).body;
    const slowPagesBefore = await pagesOf(batchId, "job-00002", "Ingest");
    // Act
    const resumed = await api.call("POST", `/batches/${batchId}/resume`, {
      reason: "inputs fixed",
    });
    const ended = await waitForBatchEnd(api, batchId);
    // Assess: the new run is a new execution of the same batch.
    expect(resumed.status).toBe(202);
    expect(resumed.body).toMatchObject({
      batchId,
      run: 2,
      resumed: 2,
      jobs: [
        { name: "slow", stoppedIn: "Ingest", phasesDone: [] },
        { name: "never", stoppedIn: null, phasesDone: [] },
      ],
    });
    expect(resumed.body.executionArn).toMatch(new RegExp(`:${batchId}-run-2$`));
    const execution = await waitForExecutionEnd(target, resumed.body.executionArn);
    expect(execution.status).toBe("SUCCEEDED");
    expect(execution.name).toBe(`${batchId}-run-2`);
    expect(ended).toMatchObject({ status: "succeeded", run: 2 });
    expect(ended.progress).toMatchObject({ succeeded: 3, cancelled: 0 });
    expect(ended.runs).toMatchObject([
      { run: 1, status: "cancelled", jobs: 3 },
      { run: 2, jobs: 2, reason: "inputs fixed", status: "succeeded" },
    ]);
    expect(ended.audit.map((entry: any) => entry.action)).toContain("resume");
    // The fixture counts its work: Ingest went on from its checkpoint, every page exactly once.
    expect(slowPagesBefore.length).toBeGreaterThanOrEqual(3);
    expect(slowPagesBefore.length).toBeLessThan(8);
    expect(await pagesOf(batchId, "job-00002", "Ingest")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const slow = (await api.job(batchId, "job-00002")).body;
    expect(slow).toMatchObject({ status: "succeeded", run: 2 });
    expect(slow.phases.find((p: any) => p.name === "Ingest")).toMatchObject({ attempt: 2 });
    // Nothing that succeeded ran again.
    const firstAfter = (await api.job(batchId, "job-00001")).body;
    expect(firstAfter.phases).toEqual(firstBefore.phases);
    expect(firstAfter.run).toBe(1);
    // The cancel's receipt still tells how each job ended then, and which run took it up.
    const receipt = await api.call("GET", `/batches/${batchId}/cancellations/${cancellationId}`);
    expect(receipt.body.jobs.map((j: any) => [j.name, j.outcome, j.resumedInRun ?? null])).toEqual([
      ["first", "completed_before_cancel", null],
      ["slow", "stopped_at_safe_point", 2],
      ["never", "cancelled_before_start", 2],
    ]);
  });

  it("cancels a resumed run like any other, and resumes it again", async () => {
    // Prepare
    const { batchId } = await cancelledHalfWay("resume twice");
    const second = await api.call("POST", `/batches/${batchId}/resume`, { jobs: ["slow"] });
    expect(second.status).toBe(202);
    await waitFor(
      async () =>
        (await api.batch(batchId)).body.current?.some((c: any) => c.name === "slow")
          ? true
          : undefined,
      "slow to run again",
      20_000,
      50,
    );
    // Act
    const cancel = await api.cancel(batchId, { reason: "not yet" });
    const stopped = await waitForBatchEnd(api, batchId);
    await waitForQuiesce(api, batchId);
    const third = await api.call("POST", `/batches/${batchId}/resume`);
    const ended = await waitForBatchEnd(api, batchId);
    // Assess
    expect(cancel.status).toBe(200);
    expect(stopped.status).toBe("cancelled");
    expect(third.status).toBe(202);
    expect(third.body.run).toBe(3);
    expect(third.body.jobs.map((j: any) => j.name)).toEqual(["slow", "never"]);
    expect(ended.status).toBe("succeeded");
    expect(ended.runs.map((r: any) => [r.run, r.status ?? null])).toEqual([
      [1, "cancelled"],
      [2, "cancelled"],
      [3, "succeeded"],
    ]);
    expect(await pagesOf(batchId, "job-00002", "Ingest")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("refuses a batch still running, an unknown batch, a succeeded job and a bad body, clearly", async () => {
    // Prepare
    const running = await api.submit({ jobs: [job("long", { pages: 4, workMs: 4000 })] });
    const { batchId } = await cancelledHalfWay("resume refusals");
    // Act
    const whileRunning = await api.call("POST", `/batches/${running.body.batchId}/resume`);
    const unknown = await api.call("POST", "/batches/b-zzzzzzzz-00000000/resume");
    const succeededJob = await api.call("POST", `/batches/${batchId}/resume`, {
      jobs: ["first"],
    });
    const badBody = await api.call("POST", `/batches/${batchId}/resume`, { jobs: "slow" });
    const afterRefusals = (await api.batch(batchId)).body;
    await api.cancel(running.body.batchId, { reason: "test done" });
    // Assess
    expect(whileRunning.status).toBe(409);
    expect(whileRunning.body.error).toMatchObject({ code: "BATCH_NOT_RESUMABLE" });
    expect(whileRunning.body.error.message).toMatch(/resume it once it has ended/);
    expect(unknown.status).toBe(404);
    expect(succeededJob.status).toBe(409);
    expect(succeededJob.body.error.message).toMatch(
      /first \(job-00001\) succeeded, and a job that succeeded never runs again/,
    );
    expect(badBody.status).toBe(400);
    expect(badBody.body.error.message).toMatch(/jobs must be an array/);
    expect(afterRefusals).toMatchObject({ status: "cancelled", run: 1 });
  });
});
