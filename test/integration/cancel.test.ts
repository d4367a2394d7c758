import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancelService } from "../../functions/core/cancel.ts";
import {
  BatchNotFoundError,
  JobAlreadyFinishedError,
  JobInCommitError,
  JobNotFoundError,
} from "../../functions/core/errors.ts";
import { applyJobCancel } from "../../functions/core/job-cancel.ts";
import { batchCancelView, jobCancelView, subsetCancelView } from "../../functions/views/cancel.ts";
import { definePhase } from "../../sdk/index.ts";
import { claimBatchCancel, type LocalAws, seedBatch, startLocalAws } from "../helpers/local-aws.ts";
import { waitFor } from "../helpers/wait.ts";

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => aws?.close());

const by = "test-operator";

describe("cancelling one job", () => {
  it("cancels a queued job, which then never starts", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [{ name: "RY.TO" }, { name: "TD.TO" }]);
    const target = jobs[0]!;
    let workCalls = 0;
    // Act
    const answer = jobCancelView(
      await aws.cancel.cancelJob(batch.batchId, target.jobId, {
        by,
        reason: "wrong ticker",
      }),
    );
    const phase = await aws.runner.run(
      { batchId: batch.batchId, jobId: target.jobId, phase: "Ingest", isFinal: false },
      definePhase({
        name: "Ingest",
        async run() {
          workCalls++;
          return {};
        },
      }),
    );
    // Assess
    expect(answer).toMatchObject({
      status: "cancelled",
      jobId: target.jobId,
      name: "RY.TO",
      wasInPhase: null,
    });
    expect(phase.outcome).toBe("cancelled");
    expect(workCalls).toBe(0);
    const stored = await aws.store.getJob(batch.batchId, target.jobId);
    expect(stored?.status).toBe("cancelled");
    expect(stored?.cancel).toMatchObject({ by, reason: "wrong ticker", scope: "job" });
    expect((await aws.store.getJob(batch.batchId, jobs[1]!.jobId))?.status).toBe("queued");
  });

  it("stops a running phase at a safe point and keeps the pages it finished", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [
      { name: "slow", input: { pages: 20, workMs: 4000 } },
    ]);
    const job = jobs[0]!;
    const running = aws.runner.run(
      { batchId: batch.batchId, jobId: job.jobId, phase: "Ingest", isFinal: false },
      aws.phases.Ingest,
    );
    await waitFor(
      async () => (await aws.store.getJob(batch.batchId, job.jobId))?.status === "running",
      "the job to run",
      10_000,
      20,
    );
    await new Promise((resolve) => setTimeout(resolve, 450));
    // Act
    const answer = jobCancelView(await aws.cancel.cancelJob(batch.batchId, job.jobId, { by }));
    const phase = await running;
    // Assess
    expect(answer).toMatchObject({ status: "cancelled", wasInPhase: "Ingest" });
    expect(phase.outcome).toBe("cancelled");
    const output = await aws.results.jobOutput(batch.batchId, job.jobId, { items: 100 });
    expect(output.phases).toHaveLength(1);
    expect(output.phases[0]?.status).toBe("partial");
    expect(output.phases[0]?.items.length).toBeGreaterThan(0);
    expect(output.phases[0]?.items.length).toBeLessThan(20);
    expect(output.phases[0]?.output).toEqual({
      pages: output.phases[0]?.items.length,
      scoreSum: expect.any(Number),
    });
    const stored = await aws.store.getJob(batch.batchId, job.jobId);
    expect(stored?.phases.Ingest?.status).toBe("aborted");
  });

  it("refuses to cancel a finished job with JobAlreadyFinished", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [{ name: "done", status: "succeeded" }]);
    // Act
    const attempt = aws.cancel.cancelJob(batch.batchId, jobs[0]!.jobId, { by });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(JobAlreadyFinishedError);
    await expect(attempt).rejects.toThrow(/already finished as succeeded/);
  });

  it("reports a job in its final commit as in_commit and leaves it running", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [
      { name: "committing", status: "running", phase: "Commit", inCommit: true },
    ]);
    // Act
    const attempt = aws.cancel.cancelJob(batch.batchId, jobs[0]!.jobId, { by });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(JobInCommitError);
    expect((await aws.store.getJob(batch.batchId, jobs[0]!.jobId))?.status).toBe("running");
  });

  it("says an unknown job is not found", async () => {
    const { batch } = await seedBatch(aws, [{ name: "only" }]);
    await expect(aws.cancel.cancelJob(batch.batchId, "job-00099", { by })).rejects.toBeInstanceOf(
      JobNotFoundError,
    );
  });

  it("answers a second cancel of the same job with the current state", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [{ name: "twice" }]);
    await aws.cancel.cancelJob(batch.batchId, jobs[0]!.jobId, { by });
    // Act
    const second = jobCancelView(await aws.cancel.cancelJob(batch.batchId, jobs[0]!.jobId, { by }));
    // Assess
    expect(second).toMatchObject({ status: "cancelled", alreadyCancelled: true });
  });
});

describe("cancelling a whole batch", () => {
  it("writes the intent, stops the execution, cancels queued and running jobs, and returns partial results", async () => {
    // Prepare
    const finished = { jobsProcessed: 1, items: 2, pages: 2, scoreSum: 30 };
    const { batch, jobs } = await seedBatch(
      aws,
      [
        { name: "finished", status: "succeeded", numbers: finished },
        { name: "working", input: { pages: 20, workMs: 4000 } },
        { name: "waiting" },
      ],
      { startedAt: new Date(Date.now() - 1000).toISOString(), totals: finished },
    );
    const running = aws.runner.run(
      { batchId: batch.batchId, jobId: jobs[1]!.jobId, phase: "Digest", isFinal: false },
      aws.phases.Digest,
    );
    await waitFor(
      async () => (await aws.store.getJob(batch.batchId, jobs[1]!.jobId))?.status === "running",
      "the job to run",
      10_000,
      20,
    );
    await new Promise((resolve) => setTimeout(resolve, 450));
    // Act
    const answer = await aws.cancel.cancelBatch(batch.batchId, {
      by,
      reason: "submitted the wrong batch",
    });
    await running;
    const results = await aws.results.page(batch.batchId);
    // Assess
    expect(answer.status).toBe("cancelled");
    expect(answer.batchStatus).toBe("cancelled");
    expect(answer.jobsCancelled).toBe(2);
    expect(answer.jobs.sort()).toEqual(["waiting", "working"]);
    expect(answer.hasResults).toBe(true);
    expect(answer.jobsProcessed).toBeGreaterThanOrEqual(1);
    expect(answer.partialResults.startTime).not.toBeNull();
    expect(answer.partialResults.totalDurationText).toMatch(/^\d\d:\d\d:\d\d$/);
    expect(results.jobsProcessed).toBe(2);
    expect(results.partialResults.pagesProcessed).toBeGreaterThan(2);
    expect(results.partialResults.processedJobs.map((job) => job.name).sort()).toEqual([
      "finished",
      "working",
    ]);
    expect(aws.engine.stopped).toContainEqual({
      executionArn: batch.executionArn,
      error: "BatchCancelled",
      cause: "submitted the wrong batch",
    });
    const loaded = await aws.store.loadBatch(batch.batchId);
    expect(loaded?.batch.cancel).toMatchObject({
      by,
      reason: "submitted the wrong batch",
      scope: "batch",
    });
    expect(loaded?.jobs.map((j) => j.status).sort()).toEqual([
      "cancelled",
      "cancelled",
      "succeeded",
    ]);
    expect(loaded?.jobs.find((j) => j.name === "working")?.wasInPhase).toBe("Digest");
    expect(loaded?.audit.map((a) => a.action)).toContain("cancel_batch");
  });

  it("answers a double cancel with the current state and does not stop the execution twice", async () => {
    // Prepare
    const { batch } = await seedBatch(aws, [{ name: "a" }, { name: "b" }]);
    await aws.cancel.cancelBatch(batch.batchId, { by });
    const stopsBefore = aws.engine.stopped.filter(
      (s) => s.executionArn === batch.executionArn,
    ).length;
    // Act
    const second = await aws.cancel.cancelBatch(batch.batchId, { by });
    // Assess
    expect(second).toMatchObject({ status: "cancelled", alreadyCancelled: true, jobsCancelled: 2 });
    expect(aws.engine.stopped.filter((s) => s.executionArn === batch.executionArn).length).toBe(
      stopsBefore,
    );
  });

  it("records exactly one of ten concurrent cancels as the first; the others report it, with the same counts", async () => {
    // Prepare
    const { batch } = await seedBatch(
      aws,
      Array.from({ length: 30 }, (_, i) => ({
        name: `j${i}`,
        ...(i < 5 ? { status: "running" as const, phase: "Ingest" } : {}),
      })),
    );
    // Act
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        aws.cancel.cancelBatch(batch.batchId, { by, reason: `cancel ${i}` }).then(batchCancelView),
      ),
    );
    // Assess
    const firsts = answers.filter((answer) => !answer.alreadyCancelled);
    expect(firsts).toHaveLength(1);
    for (const answer of answers) {
      expect(answer.status).toBe("cancelled");
      expect(answer.jobsCancelled).toBe(30);
    }
    for (const later of answers.filter((answer) => answer.alreadyCancelled))
      expect(later.message).toMatch(/was already cancelled .* 30 of 30 jobs cancelled/);
    const loaded = await aws.store.loadBatch(batch.batchId);
    expect(loaded?.audit.filter((entry) => entry.action === "cancel_batch")).toHaveLength(1);
    expect(loaded?.batch.cancel?.reason).toBe(firsts[0]!.cancel?.reason);
  });

  it("finishes a cancel whose caller went away mid-way, when another cancel comes", async () => {
    // Prepare: an intent was written, then nothing (the first cancel's Lambda died).
    const { batch } = await seedBatch(aws, [{ name: "a" }, { name: "b" }]);
    await claimBatchCancel(aws, batch.batchId, { by: "operator", reason: "first attempt" });
    const cancel = new CancelService(aws.store, aws.engine, aws.results, {
      markConcurrency: 4,
      settleMs: 0,
      manifestThreshold: 100,
      concurrentCancelWaitMs: 100,
    });
    // Act
    const answer = await cancel.cancelBatch(batch.batchId, { by, reason: "second attempt" });
    // Assess
    expect(answer).toMatchObject({
      status: "cancelled",
      batchStatus: "cancelled",
      jobsCancelled: 2,
    });
    expect(answer.cancel?.reason).toBe("first attempt");
    const loaded = await aws.store.loadBatch(batch.batchId);
    expect(loaded?.jobs.every((job) => job.status === "cancelled")).toBe(true);
  });

  it("reports no_jobs_to_cancel for a batch that already finished, with its results", async () => {
    const { batch } = await seedBatch(aws, [{ name: "a", status: "succeeded" }], {
      status: "succeeded",
    });
    const answer = await aws.cancel.cancelBatch(batch.batchId, { by });
    expect(answer).toMatchObject({
      status: "no_jobs_to_cancel",
      batchStatus: "succeeded",
      jobsCancelled: 0,
    });
  });

  it("lets a job in its final commit complete and names it", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [
      { name: "committer", input: { pages: 5, workMs: 600 } },
      { name: "queued" },
    ]);
    const commit = aws.runner.run(
      { batchId: batch.batchId, jobId: jobs[0]!.jobId, phase: "Commit", isFinal: true },
      aws.phases.Commit,
    );
    await waitFor(
      async () => (await aws.store.getJob(batch.batchId, jobs[0]!.jobId))?.inCommit,
      "the commit to start",
      10_000,
      20,
    );
    // Act
    const answer = await aws.cancel.cancelBatch(batch.batchId, { by });
    const committed = await commit;
    // Assess
    expect(answer.inCommit).toEqual(["committer"]);
    expect(answer.jobs).toEqual(["queued"]);
    expect(committed.outcome).toBe("succeeded");
    const job = await aws.store.getJob(batch.batchId, jobs[0]!.jobId);
    expect(job?.status).toBe("succeeded");
    expect(job?.numbers?.pages).toBe(5);
  });

  it("says an unknown batch is not found", async () => {
    await expect(aws.cancel.cancelBatch("b-zzzzzzzz-00000000", { by })).rejects.toBeInstanceOf(
      BatchNotFoundError,
    );
  });
});

describe("cancelling a large batch", () => {
  it("marks the running jobs now, hands the queued ones to the reconciler, and reports them all", async () => {
    // Prepare: a service that defers beyond 1 queued job, with a recording reconcile queue.
    const requests: { batchId: string; reason: string }[] = [];
    const cancel = new CancelService(aws.store, aws.engine, aws.results, {
      markConcurrency: 8,
      settleMs: 0,
      manifestThreshold: 100,
      syncMarkLimit: 1,
      reconcileQueue: {
        requestReconcile: async (batch, intent) =>
          void requests.push({ batchId: batch.batchId, reason: intent.reason }),
      },
    });
    const { batch } = await seedBatch(aws, [
      { name: "run", status: "running", phase: "Ingest" },
      { name: "q1" },
      { name: "q2" },
      { name: "q3" },
    ]);
    // Act
    const answer = await cancel.cancelBatch(batch.batchId, { by: "test", reason: "too big" });
    const before = await aws.store.listJobs(batch.batchId);
    await aws.reconciler.reconcile({
      executionArn: batch.executionArn,
      name: batch.batchId,
      status: "ABORTED",
      error: "BatchCancelled",
      cause: "too big",
    });
    const after = await aws.store.listJobs(batch.batchId);
    // Assess
    expect(answer).toMatchObject({ status: "cancelled", jobsCancelled: 4 });
    expect(answer.jobs.sort()).toEqual(["q1", "q2", "q3", "run"]);
    expect(requests).toEqual([{ batchId: batch.batchId, reason: "too big" }]);
    expect(before.map((j) => j.status).sort()).toEqual(["cancelled", "queued", "queued", "queued"]);
    expect(after.map((j) => j.status)).toEqual([
      "cancelled",
      "cancelled",
      "cancelled",
      "cancelled",
    ]);
  });

  it("marks every job itself when the reconcile queue cannot be reached", async () => {
    const cancel = new CancelService(aws.store, aws.engine, aws.results, {
      markConcurrency: 8,
      settleMs: 0,
      manifestThreshold: 100,
      syncMarkLimit: 0,
      reconcileQueue: { requestReconcile: async () => Promise.reject(new Error("queue down")) },
    });
    const { batch } = await seedBatch(aws, [{ name: "q1" }, { name: "q2" }]);
    await cancel.cancelBatch(batch.batchId, { by: "test" });
    expect((await aws.store.listJobs(batch.batchId)).map((j) => j.status)).toEqual([
      "cancelled",
      "cancelled",
    ]);
  });
});

describe("cancelling a subset", () => {
  it("reports an outcome per item with the numeric codes and a partial overall result", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [
      { name: "queued-one" },
      { name: "done-one", status: "succeeded" },
      { name: "committing-one", status: "running", phase: "Commit", inCommit: true },
      { name: "by-id" },
    ]);
    // Act
    const answer = subsetCancelView(
      await aws.cancel.cancelJobs(
        batch.batchId,
        ["queued-one", "done-one", "committing-one", "no-such-job", jobs[3]!.jobId],
        { by },
      ),
    );
    // Assess
    expect(answer.result).toBe(2);
    expect(answer.outcomes["queued-one"]).toMatchObject({ code: 0, outcome: "cancelled" });
    expect(answer.outcomes["done-one"]).toMatchObject({ code: 1, outcome: "already_finished" });
    expect(answer.outcomes["no-such-job"]).toMatchObject({ code: 2, outcome: "not_found" });
    expect(answer.outcomes["committing-one"]).toMatchObject({ code: 3, outcome: "not_cancelled" });
    expect(answer.outcomes["committing-one"]?.text).toMatch(/final commit/);
    expect(answer.outcomes[jobs[3]!.jobId]).toMatchObject({ code: 0, outcome: "cancelled" });
    expect(aws.engine.stopped.some((s) => s.executionArn === batch.executionArn)).toBe(false);
  });

  it("reports a job cancelled before as code 1, already finished, and cancels nothing twice", async () => {
    const { batch } = await seedBatch(aws, [{ name: "once" }, { name: "other" }]);
    subsetCancelView(await aws.cancel.cancelJobs(batch.batchId, ["once"], { by }));
    const again = subsetCancelView(await aws.cancel.cancelJobs(batch.batchId, ["once"], { by }));
    expect(again.result).toBe(0);
    expect(again.outcomes.once).toMatchObject({
      code: 1,
      outcome: "already_finished",
      text: expect.stringMatching(/was already cancelled/),
    });
  });

  it("finds a job by its name in another Unicode spelling of it", async () => {
    const { batch } = await seedBatch(aws, [{ name: "caf\u00e9" }]);
    const answer = subsetCancelView(
      await aws.cancel.cancelJobs(batch.batchId, ["cafe\u0301"], { by }),
    );
    expect(answer.outcomes["cafe\u0301"]).toMatchObject({ code: 0, jobId: "job-00001" });
  });

  it("gives result 1 when every item is cancelled and 0 when none is", async () => {
    const { batch } = await seedBatch(aws, [{ name: "x" }, { name: "y", status: "failed" }]);
    expect(subsetCancelView(await aws.cancel.cancelJobs(batch.batchId, ["x"], { by })).result).toBe(
      1,
    );
    expect(
      subsetCancelView(await aws.cancel.cancelJobs(batch.batchId, ["y", "nope"], { by })).result,
    ).toBe(0);
  });
});

describe("cancel racing completion", () => {
  it("cannot cancel a job once its commit has started, even when it decided from an older read", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [
      { name: "fenced", status: "running", phase: "Digest" },
    ]);
    const staleRead = jobs[0]!;
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const commit = aws.runner.run(
      { batchId: batch.batchId, jobId: staleRead.jobId, phase: "Commit", isFinal: true },
      definePhase({
        name: "Commit",
        async run() {
          await gate;
          return { committed: true };
        },
      }),
    );
    await waitFor(
      async () => (await aws.store.getJob(batch.batchId, staleRead.jobId))?.inCommit,
      "the commit to start",
      10_000,
      20,
    );
    // Act
    const report = await applyJobCancel(
      aws.store,
      staleRead,
      {
        requestedAt: new Date().toISOString(),
        by,
        reason: "late",
        scope: "job",
      },
      new Date().toISOString(),
    );
    release();
    const committed = await commit;
    // Assess
    expect(report).toMatchObject({ outcome: "not_cancelled", detail: "in_commit" });
    expect(committed.outcome).toBe("succeeded");
    expect((await aws.store.getJob(batch.batchId, staleRead.jobId))?.status).toBe("succeeded");
  });

  it("settles every race with exactly one winner, and the answer names it", async () => {
    // Prepare: many jobs about to enter their final phase, each raced by a cancel.
    const rounds = 25;
    const { batch, jobs } = await seedBatch(
      aws,
      Array.from({ length: rounds }, (_, i) => ({
        name: `race-${i}`,
        status: "running" as const,
        phase: "Digest",
        input: { pages: 2, workMs: 20 },
      })),
    );
    // Act
    const outcomes = await Promise.all(
      jobs.map(async (job, i) => {
        const commit = () =>
          aws.runner.run(
            { batchId: batch.batchId, jobId: job.jobId, phase: "Commit", isFinal: true },
            aws.phases.Commit,
          );
        // Cancels land before, during and after the commit; the stale `job` read makes each one try.
        const cancel = async () => {
          await new Promise((resolve) => setTimeout(resolve, (i % 10) * 4));
          return applyJobCancel(
            aws.store,
            job,
            {
              requestedAt: new Date().toISOString(),
              by,
              reason: "race",
              scope: "subset",
            },
            new Date().toISOString(),
          );
        };
        const [phase, report] = await Promise.all([commit(), cancel()]);
        return { job, phase, report } as {
          job: typeof job;
          phase: Awaited<ReturnType<typeof commit>>;
          report: Awaited<ReturnType<typeof cancel>>;
        };
      }),
    );
    // Assess
    for (const { job, phase, report } of outcomes) {
      const stored = await aws.store.getJob(batch.batchId, job.jobId);
      const commitOutputs = await aws.outputs.readOutputs(batch.batchId, job.jobId, ["Commit"]);
      if (stored?.status === "cancelled") {
        expect(report.outcome).toBe("cancelled");
        expect(phase.outcome).toBe("cancelled");
        // Never half-committed: a cancelled job has no Commit output at all.
        expect(commitOutputs).toEqual([]);
      } else {
        expect(stored?.status).toBe("succeeded");
        expect(phase.outcome).toBe("succeeded");
        expect(["not_cancelled", "already_finished"]).toContain(report.outcome);
        expect(commitOutputs.map((o) => o.status)).toEqual(["complete"]);
      }
    }
  });
});
