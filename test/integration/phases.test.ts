import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PhaseFailedError } from "../../functions/domain/errors";
import { demoWork } from "../../functions/workload/demo";
import { type LocalAws, seedBatch, startLocalAws } from "../helpers/local-aws";

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => aws?.close());

const phase = (batchId: string, jobId: string, name: string, isFinal = false) => ({
  batchId,
  jobId,
  phase: name,
  isFinal,
});

describe("the phase runner", () => {
  it("runs a job through its phases, saving each output, and marks it succeeded after the final one", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [
      { name: "RY.TO", input: { pages: 3, workMs: 30 } },
    ]);
    const job = jobs[0]!;
    // Act
    const ingest = await aws.runner.run(phase(batch.batchId, job.jobId, "Ingest"), demoWork);
    const digest = await aws.runner.run(phase(batch.batchId, job.jobId, "Digest"), demoWork);
    const commit = await aws.runner.run(phase(batch.batchId, job.jobId, "Commit", true), demoWork);
    // Assess
    expect([ingest.outcome, digest.outcome, commit.outcome]).toEqual([
      "continue",
      "continue",
      "succeeded",
    ]);
    const stored = await aws.store.getJob(batch.batchId, job.jobId);
    expect(stored).toMatchObject({
      status: "succeeded",
      inCommit: false,
      result: { pagesProcessed: 9 },
    });
    expect(Object.keys(stored?.phases ?? {}).sort()).toEqual(["Commit", "Digest", "Ingest"]);
    const outputs = await aws.resultStore.readJobOutputs(batch.batchId, job.jobId);
    expect(outputs.map((o) => o.status)).toEqual(["complete", "complete", "complete"]);
    expect((await aws.store.getBatch(batch.batchId))?.status).toBe("running");
  });

  it("moves a queued batch to running when its first phase starts", async () => {
    const { batch, jobs } = await seedBatch(aws, [{ name: "first" }], { status: "queued" });
    await aws.runner.run(phase(batch.batchId, jobs[0]!.jobId, "Ingest"), demoWork);
    expect((await aws.store.getBatch(batch.batchId))?.status).toBe("running");
  });

  it("saves an error output and throws PhaseFailed when the phase code throws", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [{ name: "broken", input: { failIn: "Digest" } }]);
    const job = jobs[0]!;
    await aws.runner.run(phase(batch.batchId, job.jobId, "Ingest"), demoWork);
    // Act
    const attempt = aws.runner.run(phase(batch.batchId, job.jobId, "Digest"), demoWork);
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PhaseFailedError);
    await expect(attempt).rejects.toMatchObject({ name: "PhaseFailed" });
    const stored = await aws.store.getJob(batch.batchId, job.jobId);
    expect(stored?.status).toBe("running");
    expect(stored?.phases.Digest).toMatchObject({ status: "failed" });
    const results = await aws.results.collect(batch.batchId);
    expect(results.partialResults.errors).toEqual([
      expect.objectContaining({
        jobId: job.jobId,
        phase: "Digest",
        message: expect.stringMatching(/failIn/),
      }),
    ]);
  });

  it("does not run an aborted phase again when the state machine calls it again", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [{ name: "aborted" }]);
    await aws.cancel.cancelJob(batch.batchId, jobs[0]!.jobId, { by: "test" });
    let calls = 0;
    const countingWork: typeof demoWork = async (context) => {
      calls++;
      return demoWork(context);
    };
    // Act
    const first = await aws.runner.run(
      phase(batch.batchId, jobs[0]!.jobId, "Ingest"),
      countingWork,
    );
    const again = await aws.runner.run(
      phase(batch.batchId, jobs[0]!.jobId, "Ingest"),
      countingWork,
    );
    // Assess
    expect([first.outcome, again.outcome]).toEqual(["cancelled", "cancelled"]);
    expect(calls).toBe(0);
  });

  it("treats an error thrown because of the abort as a stop, not a failure", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [{ name: "throws-on-abort" }]);
    const job = jobs[0]!;
    const throwingOnAbort: typeof demoWork = ({ signal }) =>
      new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(new Error("socket closed"))),
      );
    const running = aws.runner.run(phase(batch.batchId, job.jobId, "Ingest"), throwingOnAbort);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Act
    await aws.cancel.cancelJob(batch.batchId, job.jobId, { by: "test" });
    // Assess
    await expect(running).resolves.toMatchObject({ outcome: "cancelled" });
    expect((await aws.store.getJob(batch.batchId, job.jobId))?.status).toBe("cancelled");
  });

  it("cancels a job waiting between phases when its batch is being cancelled", async () => {
    // Prepare: Ingest is done, Digest has not started, and the batch gets a cancel intent.
    const { batch, jobs } = await seedBatch(aws, [
      { name: "between", input: { pages: 1, workMs: 0 } },
    ]);
    await aws.runner.run(phase(batch.batchId, jobs[0]!.jobId, "Ingest"), demoWork);
    await aws.store.setBatchCancelIntent(batch.batchId, {
      requestedAt: new Date().toISOString(),
      by: "test",
      reason: "stop",
      scope: "batch",
    });
    // Act
    const answer = await aws.runner.run(phase(batch.batchId, jobs[0]!.jobId, "Digest"), demoWork);
    // Assess
    expect(answer.outcome).toBe("cancelled");
    expect(await aws.store.getJob(batch.batchId, jobs[0]!.jobId)).toMatchObject({
      status: "cancelled",
      wasInPhase: "Ingest",
    });
  });

  it("skips a job that already ended", async () => {
    const { batch, jobs } = await seedBatch(aws, [{ name: "ended", status: "failed" }]);
    const answer = await aws.runner.run(phase(batch.batchId, jobs[0]!.jobId, "Digest"), demoWork);
    expect(answer.outcome).toBe("skipped");
  });
});

describe("the workflow's own steps", () => {
  it("records a job whose retries ran out as failed, with the cause's message", async () => {
    const { batch, jobs } = await seedBatch(aws, [
      { name: "gave-up", status: "running", phase: "Digest" },
    ]);
    const cause = JSON.stringify({
      errorType: "PhaseFailed",
      errorMessage: "Digest failed for gave-up: boom",
    });
    const answer = await aws.workflowService.recordJobFailure(
      batch.batchId,
      jobs[0]!.jobId,
      "PhaseFailed",
      cause,
    );
    expect(answer.status).toBe("failed");
    expect((await aws.store.getJob(batch.batchId, jobs[0]!.jobId))?.error).toEqual({
      name: "PhaseFailed",
      message: "Digest failed for gave-up: boom",
    });
  });

  it.each([
    { statuses: ["succeeded", "succeeded"], expected: "succeeded" },
    { statuses: ["succeeded", "failed"], expected: "completed_with_errors" },
    { statuses: ["succeeded", "cancelled"], expected: "completed_with_errors" },
    { statuses: ["failed", "failed"], expected: "failed" },
    { statuses: ["cancelled", "cancelled"], expected: "cancelled" },
  ] as const)(
    "finalizes a batch whose jobs ended $statuses as $expected, with a manifest",
    async ({ statuses, expected }) => {
      // Prepare
      const { batch } = await seedBatch(
        aws,
        statuses.map((status, i) => ({ name: `j${i}`, status })),
      );
      // Act
      const answer = await aws.workflowService.finalize(batch.batchId);
      // Assess
      expect(answer).toMatchObject({
        status: expected,
        decidedBy: "finalize",
        manifest: `s3://stepbatch-test/manifests/${batch.batchId}.json`,
      });
      expect((await aws.store.getBatch(batch.batchId))?.status).toBe(expected);
    },
  );

  it("fails any job the workflow left unfinished, so none stays running", async () => {
    const { batch } = await seedBatch(aws, [
      { name: "ok", status: "succeeded" },
      { name: "stuck", status: "running", phase: "Digest" },
    ]);
    const answer = await aws.workflowService.finalize(batch.batchId);
    expect(answer.status).toBe("completed_with_errors");
    expect(answer.counts).toMatchObject({ succeeded: 1, failed: 1, running: 0 });
  });

  it("cancels, not fails, the jobs still unfinished when the batch has a cancel intent", async () => {
    const { batch } = await seedBatch(
      aws,
      [
        { name: "done", status: "succeeded" },
        { name: "between", status: "running", phase: "Ingest" },
      ],
      {
        status: "cancelling",
        cancel: {
          requestedAt: new Date().toISOString(),
          by: "test",
          reason: "stop",
          scope: "batch",
        },
      },
    );
    const answer = await aws.workflowService.finalize(batch.batchId);
    expect(answer).toMatchObject({
      status: "cancelled",
      counts: { succeeded: 1, cancelled: 1, failed: 0 },
    });
  });

  it("never lets a completion decided without a cancel overwrite a cancel intent that appeared since", async () => {
    // Prepare: a batch that is being cancelled.
    const { batch } = await seedBatch(aws, [{ name: "done", status: "succeeded" }]);
    await aws.store.setBatchCancelIntent(batch.batchId, {
      requestedAt: new Date().toISOString(),
      by: "test",
      reason: "late",
      scope: "batch",
    });
    // Act: what a finalize that read the batch before the intent would write.
    const stale = await aws.store.finishUncancelledBatch(
      batch.batchId,
      "succeeded",
      new Date().toISOString(),
    );
    const final = await aws.workflowService.finalize(batch.batchId);
    // Assess
    expect(stale.won).toBe(false);
    expect(final.status).toBe("cancelled");
  });

  it("keeps the status a cancel already set when finalize comes second", async () => {
    const { batch } = await seedBatch(aws, [{ name: "a", status: "cancelled" }], {
      status: "cancelled",
    });
    const answer = await aws.workflowService.finalize(batch.batchId);
    expect(answer).toMatchObject({ status: "cancelled", decidedBy: "earlier" });
  });
});
