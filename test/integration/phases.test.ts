import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PhaseFailedError } from "../../functions/core/errors.ts";
import { applyJobCancel } from "../../functions/core/job-cancel.ts";
import { batchTransitions } from "../../functions/core/transitions.ts";
import { batchStatusView } from "../../functions/views/batch.ts";
import { definePhase } from "../../sdk/index.ts";
import { claimBatchCancel, type LocalAws, seedBatch, startLocalAws } from "../helpers/local-aws.ts";
import { waitFor } from "../helpers/wait.ts";

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
  it("runs a job through its phases, saving each output and its items, and marks it succeeded after the final one", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [
      { name: "RY.TO", input: { pages: 3, workMs: 30 } },
    ]);
    const job = jobs[0]!;
    // Act
    const ingest = await aws.runner.run(
      phase(batch.batchId, job.jobId, "Ingest"),
      aws.phases.Ingest,
    );
    const digest = await aws.runner.run(
      phase(batch.batchId, job.jobId, "Digest"),
      aws.phases.Digest,
    );
    const commit = await aws.runner.run(
      phase(batch.batchId, job.jobId, "Commit", true),
      aws.phases.Commit,
    );
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
      numbers: { pages: 9, jobsProcessed: 1, items: 9 },
      itemCounts: { Ingest: 3, Digest: 3, Commit: 3 },
    });
    const output = await aws.results.jobOutput(batch.batchId, job.jobId);
    expect(output.phases.map((p) => [p.phase, p.status, p.itemCount])).toEqual([
      ["Ingest", "complete", 3],
      ["Digest", "complete", 3],
      ["Commit", "complete", 3],
    ]);
    expect(output.phases[0]?.items).toEqual([
      { page: 1, score: expect.any(Number) },
      { page: 2, score: expect.any(Number) },
      { page: 3, score: expect.any(Number) },
    ]);
    expect(output.phases[0]?.checkpoint).toMatchObject({ checkpoint: { nextPage: 4 } });
    const batchNow = await aws.store.getBatch(batch.batchId);
    expect(batchNow).toMatchObject({ status: "running", totals: { pages: 9, jobsProcessed: 1 } });
  });

  it("gives a phase the outputs of the phases before it, and only those", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [{ name: "chain", input: { pages: 1 } }]);
    const job = jobs[0]!;
    await aws.runner.run(phase(batch.batchId, job.jobId, "Ingest"), aws.phases.Ingest);
    let seen: { previous: unknown; ingest: unknown; later: string } | undefined;
    const digest = definePhase({
      name: "Digest",
      async run(ctx) {
        let later = "";
        try {
          ctx.outputOf("Commit");
        } catch (error) {
          later = (error as Error).message;
        }
        seen = { previous: ctx.previous, ingest: ctx.outputOf("Ingest"), later };
        return { digested: true };
      },
    });
    // Act
    await aws.runner.run(phase(batch.batchId, job.jobId, "Digest"), digest);
    // Assess
    expect(seen?.ingest).toEqual({ pages: 1, scoreSum: expect.any(Number) });
    expect(seen?.previous).toEqual({ Ingest: seen?.ingest });
    expect(seen?.later).toMatch(/no output of phase 'Commit'.*not an earlier phase of Digest/);
  });

  it("keeps what a failed attempt emitted and checkpointed, and its retry starts from the checkpoint", async () => {
    // Prepare: a phase that fails once after 2 of 4 pages.
    const { batch, jobs } = await seedBatch(aws, [{ name: "flaky" }]);
    const job = jobs[0]!;
    const fetched: number[] = [];
    const flaky = definePhase<unknown, { pages: number }, { nextPage: number }>({
      name: "Ingest",
      async run(ctx) {
        for (let page = ctx.checkpoint?.nextPage ?? 1; page <= 4; page++) {
          if (ctx.job.attempt === 1 && page === 3) throw new Error("connection reset");
          fetched.push(page);
          await ctx.emit([{ page }]);
          await ctx.save({ nextPage: page + 1 });
        }
        return { pages: 4 };
      },
    });
    // Act
    const first = aws.runner.run(phase(batch.batchId, job.jobId, "Ingest"), flaky);
    await expect(first).rejects.toBeInstanceOf(PhaseFailedError);
    const retry = await aws.runner.run(phase(batch.batchId, job.jobId, "Ingest"), flaky);
    // Assess
    expect(retry.outcome).toBe("continue");
    expect(fetched).toEqual([1, 2, 3, 4]);
    const output = await aws.results.jobOutput(batch.batchId, job.jobId);
    expect(output.phases[0]).toMatchObject({
      status: "complete",
      attempt: 2,
      itemCount: 4,
      items: [{ page: 1 }, { page: 2 }, { page: 3 }, { page: 4 }],
      output: { pages: 4 },
    });
  });

  it("writes progress while a phase runs, for the status and the CLI bar", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [
      { name: "slow", input: { pages: 4, workMs: 800 } },
    ]);
    const job = jobs[0]!;
    // Act
    const running = aws.runner.run(phase(batch.batchId, job.jobId, "Ingest"), aws.phases.Ingest);
    const progress = await waitFor(
      async () => (await aws.store.getJob(batch.batchId, job.jobId))?.progress,
      "progress to be written",
    );
    const status = batchStatusView(await aws.queries.status(batch.batchId));
    await running;
    // Assess
    expect(progress).toMatchObject({ phase: "Ingest", total: 4 });
    expect(progress.jobFraction).toBeGreaterThan(0);
    expect(status.current[0]?.progress).toMatchObject({ total: 4 });
    expect(status.progress.percent).toBeGreaterThan(0);
  });

  it("keeps the commit fence up after a failed attempt of the final phase, so a cancel cannot cut it", async () => {
    // Prepare: Commit fails once, half-way.
    const { batch, jobs } = await seedBatch(aws, [
      { name: "half", status: "running", phase: "Digest" },
    ]);
    const job = jobs[0]!;
    const failing = definePhase({
      name: "Commit",
      async run() {
        throw new Error("disk full");
      },
    });
    await expect(
      aws.runner.run(phase(batch.batchId, job.jobId, "Commit", true), failing),
    ).rejects.toBeInstanceOf(PhaseFailedError);
    // Act: a cancel arrives while the retry waits.
    const stored = await aws.store.getJob(batch.batchId, job.jobId);
    const report = await applyJobCancel(
      aws.store,
      stored!,
      {
        requestedAt: new Date().toISOString(),
        by: "test",
        reason: "during the retry's backoff",
        scope: "job",
      },
      new Date().toISOString(),
    );
    // Assess
    expect(stored?.inCommit).toBe(true);
    expect(report).toMatchObject({ outcome: "not_cancelled", detail: "in_commit" });
  });

  it("pages through a phase's items with itemsOffset and itemsNext", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [
      { name: "many", input: { pages: 7, workMs: 0 } },
    ]);
    await aws.runner.run(phase(batch.batchId, jobs[0]!.jobId, "Ingest"), aws.phases.Ingest);
    // Act
    const pages: number[] = [];
    let offset: number | undefined = 0;
    let reads = 0;
    while (offset !== undefined) {
      const view = await aws.results.jobOutput(batch.batchId, jobs[0]!.jobId, {
        itemsOffset: offset,
        items: 3,
      });
      pages.push(...view.phases[0]!.items.map((item: any) => item.page));
      offset = view.phases[0]!.itemsNext;
      reads++;
    }
    const none = await aws.results.jobOutput(batch.batchId, jobs[0]!.jobId, { items: 0 });
    // Assess
    expect(pages).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(reads).toBe(3);
    expect(none.phases[0]).toMatchObject({ itemCount: 7, items: [] });
    expect(none.phases[0]?.itemsNext).toBeUndefined();
  });

  it("moves a queued batch to running when its first phase starts", async () => {
    const { batch, jobs } = await seedBatch(aws, [{ name: "first" }], { status: "queued" });
    await aws.runner.run(phase(batch.batchId, jobs[0]!.jobId, "Ingest"), aws.phases.Ingest);
    expect((await aws.store.getBatch(batch.batchId))?.status).toBe("running");
  });

  it("saves an error output and throws PhaseFailed when the phase code throws", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [{ name: "broken", input: { failIn: "Digest" } }]);
    const job = jobs[0]!;
    await aws.runner.run(phase(batch.batchId, job.jobId, "Ingest"), aws.phases.Ingest);
    // Act
    const attempt = aws.runner.run(phase(batch.batchId, job.jobId, "Digest"), aws.phases.Digest);
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PhaseFailedError);
    await expect(attempt).rejects.toMatchObject({ name: "PhaseFailed" });
    const stored = await aws.store.getJob(batch.batchId, job.jobId);
    expect(stored?.status).toBe("running");
    expect(stored?.phases.Digest).toMatchObject({ status: "failed" });
    const results = await aws.results.page(batch.batchId);
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
    const counting = definePhase({
      name: "Ingest",
      async run() {
        calls++;
        return {};
      },
    });
    // Act
    const first = await aws.runner.run(phase(batch.batchId, jobs[0]!.jobId, "Ingest"), counting);
    const again = await aws.runner.run(phase(batch.batchId, jobs[0]!.jobId, "Ingest"), counting);
    // Assess
    expect([first.outcome, again.outcome]).toEqual(["cancelled", "cancelled"]);
    expect(calls).toBe(0);
  });

  it("treats an error thrown because of the abort as a stop, not a failure", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [{ name: "throws-on-abort" }]);
    const job = jobs[0]!;
    const throwingOnAbort = definePhase({
      name: "Ingest",
      run: ({ signal }) =>
        new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(new Error("socket closed"))),
        ),
    });
    const running = aws.runner.run(phase(batch.batchId, job.jobId, "Ingest"), throwingOnAbort);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Act
    await aws.cancel.cancelJob(batch.batchId, job.jobId, { by: "test" });
    // Assess
    await expect(running).resolves.toMatchObject({ outcome: "cancelled" });
    expect((await aws.store.getJob(batch.batchId, job.jobId))?.status).toBe("cancelled");
  });

  it("stops at throwIfCancelled, keeping the items emitted before it", async () => {
    // Prepare
    const { batch, jobs } = await seedBatch(aws, [{ name: "safe-point" }]);
    const job = jobs[0]!;
    const looping = definePhase({
      name: "Ingest",
      async run(ctx) {
        for (let i = 1; ; i++) {
          ctx.throwIfCancelled();
          await ctx.emit([{ i }]);
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
      },
    });
    const running = aws.runner.run(phase(batch.batchId, job.jobId, "Ingest"), looping);
    await waitFor(
      async () => ((await aws.store.getJob(batch.batchId, job.jobId))?.itemCounts?.Ingest ?? 0) > 2,
      "some items",
    );
    // Act
    await aws.cancel.cancelJob(batch.batchId, job.jobId, { by: "test" });
    const outcome = await running;
    // Assess
    expect(outcome.outcome).toBe("cancelled");
    const output = await aws.results.jobOutput(batch.batchId, job.jobId, { items: 1000 });
    expect(output.phases[0]).toMatchObject({ status: "partial", output: null });
    expect(output.phases[0]?.itemCount).toBeGreaterThan(2);
    expect(output.phases[0]?.items).toHaveLength(output.phases[0]!.itemCount);
  });

  it("cancels a job waiting between phases when its batch is being cancelled", async () => {
    // Prepare: Ingest is done, Digest has not started, and the batch gets a cancel intent.
    const { batch, jobs } = await seedBatch(aws, [
      { name: "between", input: { pages: 1, workMs: 0 } },
    ]);
    await aws.runner.run(phase(batch.batchId, jobs[0]!.jobId, "Ingest"), aws.phases.Ingest);
    await claimBatchCancel(aws, batch.batchId, { by: "test", reason: "stop" });
    // Act
    const answer = await aws.runner.run(
      phase(batch.batchId, jobs[0]!.jobId, "Digest"),
      aws.phases.Digest,
    );
    // Assess
    expect(answer.outcome).toBe("cancelled");
    expect(await aws.store.getJob(batch.batchId, jobs[0]!.jobId)).toMatchObject({
      status: "cancelled",
      wasInPhase: "Ingest",
    });
  });

  it("skips a job that already ended", async () => {
    const { batch, jobs } = await seedBatch(aws, [{ name: "ended", status: "failed" }]);
    const answer = await aws.runner.run(
      phase(batch.batchId, jobs[0]!.jobId, "Digest"),
      aws.phases.Digest,
    );
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
    const answer = await aws.completion.recordJobFailure(
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
      const answer = await aws.completion.finalize(batch.batchId);
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
    const answer = await aws.completion.finalize(batch.batchId);
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
    const answer = await aws.completion.finalize(batch.batchId);
    expect(answer).toMatchObject({
      status: "cancelled",
      counts: { succeeded: 1, cancelled: 1, failed: 0 },
    });
  });

  it("never lets a completion decided without a cancel overwrite a cancel intent that appeared since", async () => {
    // Prepare: a batch that is being cancelled.
    const { batch } = await seedBatch(aws, [{ name: "done", status: "succeeded" }]);
    await claimBatchCancel(aws, batch.batchId, { by: "test", reason: "late" });
    // Act: what a finalize that read the batch before the intent would write.
    const stale = await aws.store.transitionBatch(
      batch.batchId,
      batchTransitions.finishUncancelled("succeeded", new Date().toISOString()),
    );
    const final = await aws.completion.finalize(batch.batchId);
    // Assess
    expect(stale.won).toBe(false);
    expect(final.status).toBe("cancelled");
  });

  it("keeps the status a cancel already set when finalize comes second", async () => {
    const { batch } = await seedBatch(aws, [{ name: "a", status: "cancelled" }], {
      status: "cancelled",
    });
    const answer = await aws.completion.finalize(batch.batchId);
    expect(answer).toMatchObject({ status: "cancelled", decidedBy: "earlier" });
  });
});
