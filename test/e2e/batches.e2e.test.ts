import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Api,
  client,
  type E2ETarget,
  executionOf,
  job,
  startTarget,
  stopFromConsole,
  waitFor,
  waitForBatchEnd,
} from "../helpers/e2e.ts";

let target: E2ETarget;
let api: Api;
beforeAll(async () => {
  target = await startTarget();
  api = client(target);
}, 60_000);
afterAll(async () => target?.close());

describe("a batch that runs to completion", () => {
  it("runs every job through Ingest, Digest and Commit and returns its results", async () => {
    // Prepare
    const submitted = await api.submit({
      name: "three tickers",
      jobs: [
        job("RY.TO", { pages: 3, workMs: 60 }),
        job("TD.TO", { pages: 3, workMs: 60 }),
        "BNS.TO",
      ],
    });
    expect(submitted.status).toBe(202);
    const { batchId, executionArn } = submitted.body;
    // Act
    const ended = await waitForBatchEnd(api, batchId);
    const results = await api.results(batchId);
    const oneJob = await api.job(batchId, "job-00001");
    // Assess
    expect(ended.status).toBe("succeeded");
    expect(ended.progress).toMatchObject({ total: 3, succeeded: 3, percent: 100 });
    expect(results.body).toMatchObject({
      status: "succeeded",
      final: true,
      jobsProcessed: 3,
      hasResults: true,
    });
    // 3 + 3 pages per phase for the first two jobs, 5 (the default) for BNS.TO, over three phases
    expect(results.body.partialResults.pagesProcessed).toBe((3 + 3 + 5) * 3);
    expect(results.body.partialResults.averageScore).toBeGreaterThan(0);
    expect(oneJob.body.phases.map((p: any) => [p.name, p.status])).toEqual([
      ["Ingest", "succeeded"],
      ["Digest", "succeeded"],
      ["Commit", "succeeded"],
    ]);
    expect(oneJob.body.numbers).toMatchObject({ pages: 9, items: 9, jobsProcessed: 1 });
    const output = await api.call("GET", `/batches/${batchId}/jobs/job-00001/output`);
    expect(output.status).toBe(200);
    expect(output.body.phases.map((p: any) => [p.phase, p.status, p.itemCount])).toEqual([
      ["Ingest", "complete", 3],
      ["Digest", "complete", 3],
      ["Commit", "complete", 3],
    ]);
    expect(output.body.phases[2].items).toHaveLength(3);
    const execution = await waitFor(async () => {
      const e = await executionOf(target, executionArn);
      return e.status === "SUCCEEDED" ? e : undefined;
    }, "the execution to succeed");
    expect(execution.name).toBe(batchId);
  });

  it("fails a job whose phase keeps throwing, after retries, and goes on with the others", async () => {
    // Prepare
    const submitted = await api.submit({
      jobs: [
        job("good", { pages: 2, workMs: 20 }),
        job("bad", { pages: 2, workMs: 20, failIn: "Digest" }),
      ],
    });
    // Act
    const ended = await waitForBatchEnd(api, submitted.body.batchId);
    const bad = await api.job(submitted.body.batchId, "job-00002");
    const results = await api.results(submitted.body.batchId);
    // Assess
    expect(ended.status).toBe("completed_with_errors");
    expect(ended.progress).toMatchObject({ succeeded: 1, failed: 1 });
    expect(bad.body.status).toBe("failed");
    expect(bad.body.error).toMatchObject({
      name: "PhaseFailed",
      message: expect.stringMatching(/failIn/),
    });
    expect(bad.body.phases.find((p: any) => p.name === "Digest")).toMatchObject({
      status: "failed",
      attempt: 3,
    });
    expect(results.body.partialResults.errors).toEqual([
      expect.objectContaining({ name: "bad", phase: "Digest" }),
    ]);
  });
});

describe("cancelling a running batch", () => {
  it("aborts the execution, stops the running phases at a safe point, never starts the queued jobs, and keeps the results", async () => {
    // Prepare: two jobs run at a time, ten pages over 1.5 s per phase; cancel while both are in Digest.
    const jobs = ["A", "B", "C", "D"].map((name) => job(name, { pages: 10, workMs: 1500 }));
    const submitted = await api.submit({ name: "wrong batch", jobs, concurrency: 2 });
    const { batchId, executionArn } = submitted.body;
    await waitFor(
      async () =>
        (await api.batch(batchId)).body.current.filter((c: any) => c.phase === "Digest").length ===
        2,
      "both running jobs to reach Digest",
    );
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Act
    const cancelled = await api.cancel(batchId, { reason: "submitted the wrong batch" });
    // Assess: the answer carries what was saved (both Ingest outputs) and names the phases stopping
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      status: "cancelled",
      jobsCancelled: 4,
      hasResults: true,
      jobsProcessed: 2,
    });
    expect(cancelled.body.jobs.sort()).toEqual(["A", "B", "C", "D"]);
    expect(cancelled.body.partialResults.pagesProcessed).toBeGreaterThanOrEqual(20);
    expect(cancelled.body.message).toMatch(/cancelled/);
    for (const stopping of cancelled.body.stopping ?? [])
      expect(stopping).toMatchObject({ name: expect.stringMatching(/^[AB]$/), phase: "Digest" });
    // Assess: the execution is aborted with the reason, as the console shows it
    const execution = await executionOf(target, executionArn);
    expect(execution).toMatchObject({
      status: "ABORTED",
      error: "BatchCancelled",
      cause: "submitted the wrong batch",
    });
    // Assess: the jobs
    const ended = await waitForBatchEnd(api, batchId);
    expect(ended.progress).toMatchObject({ cancelled: 4, running: 0, queued: 0 });
    const byName = Object.fromEntries(ended.jobs.map((j: any) => [j.name, j]));
    expect([byName.A.wasInPhase, byName.B.wasInPhase]).toEqual(["Digest", "Digest"]);
    for (const name of ["C", "D"]) {
      const queued = await api.job(batchId, byName[name].jobId);
      expect(queued.body.phases).toEqual([]); // never started
    }
    // The stopped phase records itself within the abort latency, which may be after the job ended.
    const running = await waitFor(async () => {
      const answer = await api.job(batchId, byName.A.jobId);
      return answer.body.phases.at(-1)?.status !== "running" ? answer : undefined;
    }, "the stopped phase to record itself");
    expect(running.body.phases.map((p: any) => [p.name, p.status])).toEqual([
      ["Ingest", "succeeded"],
      ["Digest", "aborted"],
    ]);
    expect(running.body.phases[1].items).toBeGreaterThan(0);
    expect(running.body.phases[1].items).toBeLessThan(10);
    // Assess: the partial Digest outputs can be fetched after the answer, and nothing reached Commit
    const later = await waitFor(async () => {
      const results = (await api.results(batchId)).body;
      return results.partialResults.processedJobs.every((j: any) =>
        j.phases.some((p: any) => p.phase === "Digest" && p.status === "partial"),
      )
        ? results
        : undefined;
    }, "the partial Digest outputs");
    expect(later.partialResults.pagesProcessed).toBeGreaterThan(20);
    expect(later.partialResults.pagesProcessed).toBeLessThan(40);
    expect(
      later.partialResults.processedJobs.flatMap((j: any) => j.phases.map((p: any) => p.phase)),
    ).not.toContain("Commit");
    expect(ended.audit.map((a: any) => a.action)).toContain("cancel_batch");
  });

  it("answers a second cancel with the current state", async () => {
    const submitted = await api.submit({ jobs: [job("slow", { pages: 5, workMs: 5000 })] });
    await api.cancel(submitted.body.batchId);
    const again = await api.cancel(submitted.body.batchId);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({
      status: "cancelled",
      alreadyCancelled: true,
      jobsCancelled: 1,
    });
  });

  it("answers a cancel of a finished batch with no_jobs_to_cancel and its results", async () => {
    const submitted = await api.submit({ jobs: [job("quick", { pages: 1, workMs: 0 })] });
    await waitForBatchEnd(api, submitted.body.batchId);
    const answer = await api.cancel(submitted.body.batchId);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: "no_jobs_to_cancel",
      batchStatus: "succeeded",
      jobsProcessed: 1,
      hasResults: true,
    });
  });
});

describe("cancelling a large batch", () => {
  it("answers at once for every job, and the queued ones end cancelled shortly after", async () => {
    // Prepare: 150 jobs, 2 running: more queued jobs than a cancel marks within the request.
    const jobs = Array.from({ length: 150 }, (_, i) =>
      job(`big-${i}`, { pages: 10, workMs: 5000 }),
    );
    const submitted = await api.submit({ jobs, concurrency: 2 });
    const { batchId } = submitted.body;
    await waitFor(
      async () => (await api.batch(batchId)).body.progress.running === 2,
      "two jobs to run",
    );
    // Act
    const answer = await api.cancel(batchId, { reason: "far too big" });
    const ended = await waitForBatchEnd(api, batchId);
    // Assess
    expect(answer.body).toMatchObject({ status: "cancelled", jobsCancelled: 150 });
    expect(ended).toMatchObject({
      status: "cancelled",
      progress: { cancelled: 150, queued: 0, running: 0 },
    });
    expect(ended.cancel).toMatchObject({ reason: "far too big" });
  });
});

describe("cancelling jobs", () => {
  it("cancels one job while the others complete", async () => {
    // Prepare
    const submitted = await api.submit({
      jobs: [
        job("keep-1", { pages: 2, workMs: 400 }),
        job("drop", { pages: 10, workMs: 4000 }),
        job("keep-2", { pages: 2, workMs: 400 }),
      ],
    });
    const { batchId } = submitted.body;
    await waitFor(
      async () => (await api.job(batchId, "job-00002")).body.status === "running",
      "the job to run",
    );
    // Act
    const answer = await api.cancelJob(batchId, "job-00002", { reason: "hung" });
    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: "cancelled",
      jobId: "job-00002",
      name: "drop",
      wasInPhase: "Ingest",
    });
    const ended = await waitForBatchEnd(api, batchId);
    expect(ended.status).toBe("completed_with_errors");
    expect(ended.progress).toMatchObject({ succeeded: 2, cancelled: 1, failed: 0 });
    expect(ended.failed_jobs).toBe(1);
  });

  it("reports a mixed outcome for a subset, with codes", async () => {
    // Prepare
    const submitted = await api.submit({
      jobs: [
        job("done", { pages: 1, workMs: 0 }),
        job("slow", { pages: 10, workMs: 5000 }),
        job("waiting", { pages: 10, workMs: 5000 }),
      ],
      concurrency: 2,
    });
    const { batchId } = submitted.body;
    await waitFor(
      async () => (await api.job(batchId, "job-00001")).body.status === "succeeded",
      "the quick job to finish",
    );
    // Act
    const answer = await api.cancel(batchId, { jobs: ["done", "slow", "job-00003", "nope"] });
    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body.result).toBe(2);
    expect(answer.body.outcomes).toMatchObject({
      done: { code: 1, outcome: "already_finished" },
      slow: { code: 0, outcome: "cancelled" },
      "job-00003": { code: 0, outcome: "cancelled" },
      nope: { code: 2, outcome: "not_found" },
    });
    const ended = await waitForBatchEnd(api, batchId);
    expect(ended.status).toBe("completed_with_errors");
  });
});

describe("a stop made outside the API", () => {
  it("reconciles a batch stopped with StopExecution as cancelled by the console", async () => {
    // Prepare
    const submitted = await api.submit({
      jobs: [job("x", { pages: 10, workMs: 5000 }), job("y", { pages: 10, workMs: 5000 })],
      concurrency: 1,
    });
    const { batchId, executionArn } = submitted.body;
    await waitFor(
      async () => (await api.batch(batchId)).body.progress.running === 1,
      "a job to run",
    );
    // Act
    await stopFromConsole(target, executionArn, "stopped from the console");
    // Assess
    const ended = await waitForBatchEnd(api, batchId);
    expect(ended.status).toBe("cancelled");
    expect(ended.cancel).toMatchObject({ by: "console", reason: "stopped from the console" });
    expect(ended.progress).toMatchObject({ cancelled: 2, running: 0 });
  });
});

describe("several batches at once", () => {
  it("keep to themselves: cancelling one leaves the others to succeed", async () => {
    // Prepare
    const [a, b, c] = await Promise.all(
      ["first", "second", "third"].map((name) =>
        api.submit({
          name,
          jobs: [
            job(`${name}-1`, { pages: 3, workMs: 600 }),
            job(`${name}-2`, { pages: 3, workMs: 600 }),
          ],
        }),
      ),
    );
    // Act
    await api.cancel(b!.body.batchId, { reason: "only this one" });
    const [endA, endB, endC] = await Promise.all(
      [a, b, c].map((s) => waitForBatchEnd(api, s!.body.batchId)),
    );
    // Assess
    expect(endA.status).toBe("succeeded");
    expect(endC.status).toBe("succeeded");
    expect(endB.status).toBe("cancelled");
    expect(endA.progress.succeeded + endC.progress.succeeded).toBe(4);
  });
});

describe("the rest of the contract", () => {
  it("answers ten concurrent submits with one Idempotency-Key with the same 202 and batch", async () => {
    // Prepare
    const body = { jobs: [job("idem", { pages: 1, workMs: 0 }), job("potent", { pages: 1 })] };
    const key = `e2e-${Date.now()}`;
    // Act
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => api.submit(body, { "Idempotency-Key": key })),
    );
    // Assess
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(202));
    expect(new Set(answers.map((answer) => answer.body.batchId)).size).toBe(1);
    expect(answers[9]!.body.jobs).toEqual(answers[0]!.body.jobs);
    await waitForBatchEnd(api, answers[0]!.body.batchId);
  });

  it("lists batches newest first and consolidates results to permanent storage", async () => {
    const submitted = await api.submit({ jobs: [job("listed", { pages: 1, workMs: 0 })] });
    await waitForBatchEnd(api, submitted.body.batchId);
    const listed = await api.call("GET", "/batches?limit=5");
    expect(listed.status).toBe(200);
    expect(listed.body.batches[0].batchId).toBe(submitted.body.batchId);
    const consolidated = await api.call("POST", `/batches/${submitted.body.batchId}/consolidate`);
    expect(consolidated.status).toBe(200);
    expect(consolidated.body.uri).toMatch(
      new RegExp(`^s3://.+/consolidated/${submitted.body.batchId}/results.json$`),
    );
  });

  it("deletes a finished job's record, and refuses an active one with 409", async () => {
    const submitted = await api.submit({ jobs: [job("slow", { pages: 10, workMs: 5000 })] });
    const { batchId } = submitted.body;
    const active = await api.call("DELETE", `/batches/${batchId}/jobs/job-00001`);
    expect(active.status).toBe(409);
    expect(active.body.error.code).toBe("JOB_ACTIVE");
    await api.cancel(batchId);
    const deleted = await api.call("DELETE", `/batches/${batchId}/jobs/job-00001`);
    expect(deleted.status).toBe(200);
    expect((await api.job(batchId, "job-00001")).status).toBe(404);
  });
});

describe("errors", () => {
  it("answers 401 without a token and 403 with a wrong one", async () => {
    const missing = await api.call("GET", "/batches", undefined, { token: null });
    const wrong = await api.call("GET", "/batches", undefined, { token: "not-the-token" });
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe("UNAUTHORIZED");
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.code).toBe("FORBIDDEN");
  });

  it("accepts X-Admin-Token as an alias of the bearer token", async () => {
    const answer = await api.call("GET", "/batches", undefined, {
      token: null,
      headers: { "X-Admin-Token": target.token },
    });
    expect(answer.status).toBe(200);
  });

  it.each([
    ["{not json", /not valid JSON/],
    [JSON.stringify({ jobs: [] }), /jobs/],
    [JSON.stringify({ jobs: ["a"], concurrency: 500 }), /concurrency/],
    [JSON.stringify({ jobs: ["a", "a"] }), /unique/],
  ])("answers 400 to the body %s, naming the problem", async (raw, message) => {
    const answer = await api.call("POST", "/batches", undefined, { raw });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(message);
  });

  it("answers 404 for an unknown batch or job, whatever the form of its id", async () => {
    expect((await api.batch("b-zzzzzzzz-00000000")).status).toBe(404);
    expect((await api.call("POST", "/batches/b-zzzzzzzz-00000000/cancel")).status).toBe(404);
    const submitted = await api.submit({ jobs: [job("one", { pages: 1, workMs: 0 })] });
    expect((await api.job(submitted.body.batchId, "job-00099")).status).toBe(404);
    const traversal = await api.call("GET", "/batches/..%2F..%2Fetc%2Fpasswd");
    expect(traversal.status).toBe(404);
    expect(traversal.body.error.message).toMatch(/batch ids look like b-/);
    const byName = await api.job(submitted.body.batchId, "one");
    expect(byName.status).toBe(404);
    expect(byName.body.error).toMatchObject({ code: "JOB_NOT_FOUND" });
    expect(byName.body.error.message).toMatch(/job ids look like job-00001/);
  });

  it("answers 409 JOB_ALREADY_FINISHED when cancelling a finished job", async () => {
    const submitted = await api.submit({ jobs: [job("quick", { pages: 1, workMs: 0 })] });
    await waitForBatchEnd(api, submitted.body.batchId);
    const answer = await api.cancelJob(submitted.body.batchId, "job-00001");
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe("JOB_ALREADY_FINISHED");
  });
});
