import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecutionStatusChange } from "../../functions/core/execution.ts";
import { type LocalAws, seedBatch, startLocalAws } from "../helpers/local-aws.ts";

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => aws?.close());

const ended = (
  batch: { batchId: string; executionArn: string },
  over: Partial<ExecutionStatusChange>,
): ExecutionStatusChange => ({
  executionArn: batch.executionArn,
  name: batch.batchId,
  status: "ABORTED",
  stopDate: Date.now(),
  ...over,
});

describe("reconciling an execution that ended outside the API", () => {
  it("turns a stop from the console into a cancel by 'console' with the stop's cause", async () => {
    // Prepare
    const { batch } = await seedBatch(aws, [
      { name: "q" },
      { name: "r", status: "running", phase: "Digest" },
      { name: "s", status: "succeeded" },
    ]);
    // Act
    const result = await aws.reconciler.reconcile(
      ended(batch, { error: "", cause: "stopped by the on-call engineer" }),
    );
    // Assess
    expect(result).toMatchObject({ action: "reconciled", status: "cancelled", jobsChanged: 2 });
    const loaded = await aws.store.loadBatch(batch.batchId);
    expect(loaded?.batch).toMatchObject({
      status: "cancelled",
      cancel: { by: "console", reason: "stopped by the on-call engineer", scope: "batch" },
    });
    expect(loaded?.jobs.map((j) => j.status).sort()).toEqual([
      "cancelled",
      "cancelled",
      "succeeded",
    ]);
    expect(loaded?.jobs.find((j) => j.name === "r")?.wasInPhase).toBe("Digest");
    expect(loaded?.audit.map((a) => a.action)).toContain("reconcile_aborted");
  });

  it("changes nothing after the API's own cancel, and a duplicated event changes nothing either", async () => {
    // Prepare
    const { batch } = await seedBatch(aws, [{ name: "a" }, { name: "b" }]);
    await aws.cancel.cancelBatch(batch.batchId, { by: "operator", reason: "wrong batch" });
    const before = await aws.store.loadBatch(batch.batchId);
    // Act
    const first = await aws.reconciler.reconcile(
      ended(batch, { error: "BatchCancelled", cause: "wrong batch" }),
    );
    const again = await aws.reconciler.reconcile(
      ended(batch, { error: "BatchCancelled", cause: "wrong batch" }),
    );
    // Assess
    expect(first).toMatchObject({
      action: "already_consistent",
      status: "cancelled",
      jobsChanged: 0,
    });
    expect(again).toMatchObject({
      action: "already_consistent",
      status: "cancelled",
      jobsChanged: 0,
    });
    const after = await aws.store.loadBatch(batch.batchId);
    expect(after?.batch.cancel).toEqual(before?.batch.cancel);
    expect(after?.jobs).toEqual(before?.jobs);
  });

  it("fails every unfinished job of a failed execution with its cause", async () => {
    const { batch } = await seedBatch(aws, [
      { name: "q" },
      { name: "r", status: "running", phase: "Ingest", inCommit: false },
    ]);
    const result = await aws.reconciler.reconcile(
      ended(batch, { status: "FAILED", error: "States.Runtime", cause: "bad path" }),
    );
    expect(result.status).toBe("failed");
    const loaded = await aws.store.loadBatch(batch.batchId);
    expect(loaded?.jobs.map((j) => j.status)).toEqual(["failed", "failed"]);
    expect(loaded?.jobs[0]?.error?.message).toMatch(/States.Runtime.*bad path/);
  });

  it("fails the unfinished jobs of a timed-out execution as States.Timeout", async () => {
    const { batch } = await seedBatch(aws, [{ name: "q" }]);
    await aws.reconciler.reconcile(ended(batch, { status: "TIMED_OUT" }));
    expect((await aws.store.getJob(batch.batchId, "job-00001"))?.error).toEqual({
      name: "States.Timeout",
      message: "the batch execution timed out",
    });
  });

  it("lets a job in its final commit finish after a console stop", async () => {
    const { batch } = await seedBatch(aws, [
      { name: "c", status: "running", phase: "Commit", inCommit: true },
    ]);
    await aws.reconciler.reconcile(ended(batch, { error: "", cause: "stop" }));
    expect((await aws.store.getJob(batch.batchId, "job-00001"))?.status).toBe("running");
  });

  it("fails a job in its final commit too when the execution failed, and the batch with it", async () => {
    // Prepare
    const { batch } = await seedBatch(aws, [
      { name: "c", status: "running", phase: "Commit", inCommit: true },
      { name: "q" },
    ]);
    // Act
    const result = await aws.reconciler.reconcile(
      ended(batch, { status: "FAILED", error: "WorkersLost", cause: "the tasks died" }),
    );
    // Assess
    expect(result).toMatchObject({ action: "reconciled", status: "failed", jobsChanged: 2 });
    const loaded = await aws.store.loadBatch(batch.batchId);
    expect(loaded?.jobs.map((j) => j.status)).toEqual(["failed", "failed"]);
    expect(loaded?.jobs[0]).toMatchObject({
      inCommit: false,
      error: { name: "WorkersLost", message: expect.stringMatching(/WorkersLost.*the tasks died/) },
    });
    expect(loaded?.batch.error?.name).toBe("WorkersLost");
  });

  it("finalizes a batch whose execution succeeded but whose Finalize never ran", async () => {
    const { batch } = await seedBatch(aws, [{ name: "ok", status: "succeeded" }]);
    const result = await aws.reconciler.reconcile(ended(batch, { status: "SUCCEEDED" }));
    expect(result).toMatchObject({ action: "reconciled", status: "succeeded" });
  });

  it("ignores executions that are not batches of this stack", async () => {
    const result = await aws.reconciler.reconcile({
      executionArn: "arn:aws:states:us-east-1:1:execution:other:x",
      name: "b-zzzzzzzz-00000000",
      status: "FAILED",
    });
    expect(result.action).toBe("ignored");
  });
});
