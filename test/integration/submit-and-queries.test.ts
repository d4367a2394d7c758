import { createHash } from "node:crypto";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BatchNotFoundError,
  ExecutionStartError,
  IdempotencyConflictError,
  IdempotencyInProgressError,
  JobActiveError,
  JobNotFoundError,
  ValidationError,
} from "../../functions/core/errors.ts";
import { type ExecutionInput, newBatchId, SubmitService } from "../../functions/core/submit.ts";
import { batchListView, batchStatusView, deletedJobView } from "../../functions/views/batch.ts";
import { claimBatchCancel, type LocalAws, seedBatch, startLocalAws } from "../helpers/local-aws.ts";

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => aws?.close());

describe("submitting a batch", () => {
  it("records the batch and its jobs, then starts an execution named by the batch id with ids only", async () => {
    // Act
    const answer = await aws.submit.submit({
      name: "tickers",
      jobs: ["RY.TO", { name: "TD.TO", input: { pages: 2 } }],
      concurrency: 3,
    });
    // Assess
    expect(answer).toMatchObject({ status: "queued", name: "tickers", total: 2, concurrency: 3 });
    expect(answer.jobs).toEqual([
      { jobId: "job-00001", name: "RY.TO" },
      { jobId: "job-00002", name: "TD.TO" },
    ]);
    const started = aws.engine.started.find((s) => s.name === answer.batchId);
    expect(started?.input as ExecutionInput).toEqual({
      batchId: answer.batchId,
      concurrency: 3,
      jobs: [{ jobId: "job-00001" }, { jobId: "job-00002" }],
    });
    const stored = await aws.store.getJob(answer.batchId, "job-00002");
    expect(stored).toMatchObject({ name: "TD.TO", status: "queued", input: { pages: 2 } });
  });

  it("refuses duplicate job names, which would make cancel-by-name ambiguous", async () => {
    await expect(aws.submit.submit({ jobs: ["A", "B", "A"] })).rejects.toThrow(ValidationError);
    await expect(aws.submit.submit({ jobs: ["A", "B", "A"] })).rejects.toThrow(
      /jobs\[2\]: name 'A' is also jobs\[0\]/,
    );
  });

  it("returns the same batch for a repeated Idempotency-Key and starts one execution", async () => {
    // Prepare
    const body = { jobs: ["X"] };
    // Act
    const first = await aws.submit.submit(body, { idempotencyKey: "retry-123" });
    const second = await aws.submit.submit(body, { idempotencyKey: "retry-123" });
    // Assess
    expect(second.batchId).toBe(first.batchId);
    expect(second.idempotentReplay).toBe(true);
    expect(aws.engine.started.filter((s) => s.name === first.batchId)).toHaveLength(1);
  });

  it("gives ten concurrent requests with one Idempotency-Key the same batch, and starts one execution", async () => {
    // Prepare
    const body = { name: "concurrent", jobs: ["A", "B", "C"] };
    // Act
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => aws.submit.submit(body, { idempotencyKey: "ten-at-once" })),
    );
    // Assess
    const batchIds = new Set(answers.map((answer) => answer.batchId));
    expect(batchIds.size).toBe(1);
    const [batchId] = [...batchIds];
    for (const answer of answers)
      expect(answer).toMatchObject({ status: "queued", total: 3, jobs: answers[0]!.jobs });
    expect(aws.engine.started.filter((s) => s.name === batchId)).toHaveLength(1);
    expect((await aws.store.getBatch(batchId!))?.status).toBe("queued");
  });

  it("recovers a key whose request crashed after claiming it: a replay creates that batch and starts it", async () => {
    // Prepare: a claim written, then nothing (the request died).
    const submit = new SubmitService(aws.store, aws.engine, {
      claimStaleMs: 50,
    });
    const body = { jobs: ["X", "Y"] };
    const requestHash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
    const orphan = newBatchId(new Date());
    await aws.store.claimIdempotency(
      {
        key: "crashed-after-claim",
        batchId: orphan,
        requestHash,
        createdAt: new Date().toISOString(),
        claimedAt: Date.now() - 1_000,
      },
      Math.floor(Date.now() / 1000),
    );
    // Act
    const answer = await submit.submit(body, { idempotencyKey: "crashed-after-claim" });
    // Assess
    expect(answer.batchId).toBe(orphan);
    expect((await aws.store.getBatch(orphan))?.status).toBe("queued");
    expect(aws.engine.started.filter((s) => s.name === orphan)).toHaveLength(1);
  });

  it("lets a different request take over a key whose batch was never created, instead of naming a batch that does not exist", async () => {
    // Prepare
    const submit = new SubmitService(aws.store, aws.engine, {
      claimStaleMs: 50,
    });
    await aws.store.claimIdempotency(
      {
        key: "abandoned",
        batchId: newBatchId(new Date()),
        requestHash: "another request",
        createdAt: new Date().toISOString(),
        claimedAt: Date.now() - 1_000,
      },
      Math.floor(Date.now() / 1000),
    );
    // Act
    const answer = await submit.submit({ jobs: ["Z"] }, { idempotencyKey: "abandoned" });
    // Assess
    expect(await aws.store.getBatch(answer.batchId)).toMatchObject({ status: "queued", total: 1 });
    const again = await submit.submit({ jobs: ["Z"] }, { idempotencyKey: "abandoned" });
    expect(again.batchId).toBe(answer.batchId);
  });

  it("starts the execution of a batch whose request stopped between recording it and starting it, when the request is replayed", async () => {
    // Prepare: the first attempt claimed the key and recorded the batch, then died.
    const body = { jobs: ["P"] };
    const { batch } = await seedBatch(aws, [{ name: "P" }], { status: "queued" });
    await aws.store.claimIdempotency(
      {
        key: "start-lost",
        batchId: batch.batchId,
        requestHash: createHash("sha256").update(JSON.stringify(body)).digest("hex"),
        createdAt: batch.createdAt,
        claimedAt: Date.now(),
      },
      Math.floor(Date.now() / 1000),
    );
    // Act
    const replay = await aws.submit.submit(body, { idempotencyKey: "start-lost" });
    // Assess
    expect(replay).toMatchObject({
      batchId: batch.batchId,
      status: "queued",
      idempotentReplay: true,
    });
    expect(aws.engine.started.find((s) => s.name === batch.batchId)?.input).toEqual({
      batchId: batch.batchId,
      concurrency: 10,
      jobs: [{ jobId: "job-00001" }],
    });
  });

  it("stops writing a batch once another request has taken its key over: no two writers", async () => {
    // Prepare: right after this request claims the key, another one takes the claim over (as if
    // this one had been too slow); a clock that moves 3 s a call makes it renew before each write.
    const store = Object.create(aws.store) as typeof aws.store;
    store.claimIdempotency = async (record, nowSeconds) => {
      const claimed = await aws.store.claimIdempotency(record, nowSeconds);
      await aws.store.takeOverIdempotency({ ...record, claimedAt: 1 }, record);
      return claimed;
    };
    let clock = Date.now();
    const submit = new SubmitService(store, aws.engine, {
      now: () => {
        clock += 3_000;
        return new Date(clock);
      },
    });
    // Act
    const attempt = submit.submit({ jobs: ["slow"] }, { idempotencyKey: "taken-over" });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(IdempotencyInProgressError);
    const claim = await aws.store.getIdempotency("taken-over");
    expect(await aws.store.getBatch(claim!.batchId)).toBeUndefined();
    expect(await aws.store.getJob(claim!.batchId, "job-00001")).toBeUndefined();
  });

  it("frees a key once its 24 h are over, even before TTL deletes the claim", async () => {
    const stale = newBatchId(new Date());
    await aws.store.claimIdempotency(
      { key: "expired", batchId: stale, requestHash: "x", createdAt: "", claimedAt: 0 },
      Math.floor(Date.now() / 1000) - 2 * 24 * 3600,
    );
    const answer = await aws.submit.submit({ jobs: ["fresh"] }, { idempotencyKey: "expired" });
    expect(answer.batchId).not.toBe(stale);
    expect(answer.idempotentReplay).toBeUndefined();
  });

  it("refuses an Idempotency-Key reused for a different request", async () => {
    await aws.submit.submit({ jobs: ["X"] }, { idempotencyKey: "reused" });
    await expect(
      aws.submit.submit({ jobs: ["Y"] }, { idempotencyKey: "reused" }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it("records a batch whose execution could not start as failed, with the reason, and leaves no job queued", async () => {
    // Prepare
    aws.engine.failNextStart = Object.assign(new Error("Rate exceeded"), {
      name: "ThrottlingException",
    });
    // Act
    const attempt = aws.submit.submit({ jobs: ["P", "Q"] });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ExecutionStartError);
    const listed = await aws.queries.list({ status: "failed", limit: 10 });
    const failed = listed.batches[0];
    expect(failed).toBeDefined();
    const status = batchStatusView(await aws.queries.status(failed!.batchId));
    expect(status.error).toMatchObject({ name: "ThrottlingException", message: "Rate exceeded" });
    expect(status.progress).toMatchObject({ total: 2, failed: 2, queued: 0 });
  });
});

describe("the sweep", () => {
  const window = { olderThanMs: 60_000, lookbackMs: 3_600_000 };
  const old = () => new Date(Date.now() - 10 * 60_000).toISOString();

  it("starts a batch left queued with no execution, and only such a batch", async () => {
    // Prepare
    const stranded = await seedBatch(aws, [{ name: "s" }], { status: "queued", createdAt: old() });
    const started = await seedBatch(aws, [{ name: "t" }], { status: "queued", createdAt: old() });
    await aws.engine.startExecution(started.batch.batchId, {});
    const young = await seedBatch(aws, [{ name: "u" }], { status: "queued" });
    const running = await seedBatch(aws, [{ name: "v" }], { status: "running", createdAt: old() });
    // Act
    const swept = await aws.sweeper.sweep(window);
    // Assess
    expect(swept.started).toContain(stranded.batch.batchId);
    for (const other of [started, young, running])
      expect(swept.started).not.toContain(other.batch.batchId);
    expect(aws.engine.started.find((s) => s.name === stranded.batch.batchId)?.input).toEqual({
      batchId: stranded.batch.batchId,
      concurrency: 10,
      jobs: [{ jobId: "job-00001" }],
    });
  });

  it("finishes a cancel cut short whose execution ended while nothing listened", async () => {
    // Prepare: the intent is written and the execution was stopped, then the cancel's Lambda and
    // the status change were lost.
    const cut = await seedBatch(
      aws,
      [{ name: "w", status: "running", phase: "Ingest" }, { name: "x" }],
      { status: "running", createdAt: old() },
    );
    await claimBatchCancel(aws, cut.batch.batchId, {
      by: "operator",
      reason: "cut short",
      requestedAt: old(),
    });
    aws.engine.ended.set(cut.batch.executionArn, {
      executionArn: cut.batch.executionArn,
      name: cut.batch.batchId,
      status: "ABORTED",
      error: "BatchCancelled",
      cause: "cut short",
    });
    // Act
    const swept = await aws.sweeper.sweep(window);
    // Assess
    expect(swept.reconciled).toContain(cut.batch.batchId);
    const loaded = await aws.store.loadBatch(cut.batch.batchId);
    expect(loaded?.batch.status).toBe("cancelled");
    expect(loaded?.jobs.map((job) => job.status)).toEqual(["cancelled", "cancelled"]);
  });
});

describe("reading batches and jobs", () => {
  it("shows progress, the jobs running now, and failed_jobs as older job queues counted it", async () => {
    // Prepare
    const { batch } = await seedBatch(aws, [
      { name: "a", status: "succeeded" },
      { name: "b", status: "failed" },
      { name: "c", status: "cancelled" },
      { name: "d", status: "running", phase: "Digest" },
    ]);
    // Act
    const status = batchStatusView(await aws.queries.status(batch.batchId));
    // Assess
    expect(status.progress).toEqual({
      total: 4,
      queued: 0,
      running: 1,
      succeeded: 1,
      failed: 1,
      cancelled: 1,
      percent: 75,
    });
    expect(status.current).toEqual([expect.objectContaining({ name: "d", phase: "Digest" })]);
    expect(status.failed_jobs).toBe(2);
  });

  it("shows each job of the page with its phase progress and its times, and each listed batch with its progress", async () => {
    // Prepare
    const { batch } = await seedBatch(aws, [
      { name: "done", status: "succeeded" },
      {
        name: "busy",
        status: "running",
        phase: "Digest",
        progress: { phase: "Digest", done: 3, total: 10, at: "2030-01-01T00:00:05.000Z" },
        startedAt: "2030-01-01T00:00:01.000Z",
      },
    ]);
    // Act
    const status = batchStatusView(await aws.queries.status(batch.batchId));
    const listed = batchListView(await aws.queries.list({ limit: 10 })).batches.find(
      (b) => b.batchId === batch.batchId,
    );
    // Assess
    expect(status.jobs.find((j) => j.name === "busy")).toMatchObject({
      progress: { done: 3, total: 10 },
      startedAt: "2030-01-01T00:00:01.000Z",
      endedAt: null,
    });
    expect(status.jobs.find((j) => j.name === "done")).toMatchObject({ progress: null });
    expect(listed?.progress).toEqual({
      total: 2,
      queued: 0,
      running: 1,
      succeeded: 1,
      failed: 0,
      cancelled: 0,
      percent: 50,
    });
  });

  it("lists batches newest first, page by page", async () => {
    // Prepare
    const a = await seedBatch(aws, [{ name: "1" }], { createdAt: "2030-01-01T00:00:01.000Z" });
    const b = await seedBatch(aws, [{ name: "1" }], { createdAt: "2030-01-01T00:00:02.000Z" });
    // Act
    const page1 = await aws.queries.list({ limit: 1 });
    const page2 = await aws.queries.list({ limit: 1, cursor: page1.nextCursor ?? "" });
    // Assess
    expect(page1.batches[0]?.batchId).toBe(b.batch.batchId);
    expect(page2.batches[0]?.batchId).toBe(a.batch.batchId);
  });

  it.each([
    ["not a cursor", "bm90LWEtY3Vyc29y"],
    [
      "a key with a field missing",
      Buffer.from('{"pk":"BATCH#x","gsi1sk":"y"}').toString("base64url"),
    ],
    [
      "a key with fields of the wrong type",
      Buffer.from('{"pk":1,"sk":2,"gsi1pk":3,"gsi1sk":4}').toString("base64url"),
    ],
  ])("refuses a cursor it did not issue: %s", async (_, cursor) => {
    await expect(aws.queries.list({ cursor })).rejects.toThrow(/cursor is not a cursor/);
  });

  it("says an unknown batch is not found", async () => {
    await expect(aws.queries.status("b-zzzzzzzz-00000000")).rejects.toBeInstanceOf(
      BatchNotFoundError,
    );
    await expect(aws.results.page("b-zzzzzzzz-00000000")).rejects.toBeInstanceOf(
      BatchNotFoundError,
    );
  });
});

describe("deleting a job", () => {
  it("deletes a finished job's record", async () => {
    const { batch, jobs } = await seedBatch(aws, [{ name: "gone", status: "cancelled" }]);
    const answer = deletedJobView(await aws.queries.deleteJob(batch.batchId, jobs[0]!.jobId));
    expect(answer).toMatchObject({ deleted: true, name: "gone", status: "cancelled" });
    await expect(aws.queries.job(batch.batchId, jobs[0]!.jobId)).rejects.toBeInstanceOf(
      JobNotFoundError,
    );
  });

  it("takes the deleted job's numbers out of the batch's sums, so totals and results agree", async () => {
    const { batch, jobs } = await seedBatch(
      aws,
      [
        { name: "kept", status: "succeeded", numbers: { jobsProcessed: 1, items: 3, pages: 3 } },
        { name: "gone", status: "cancelled", numbers: { jobsProcessed: 1, items: 2, pages: 2 } },
      ],
      { totals: { jobsProcessed: 2, items: 5, pages: 5 } },
    );
    await aws.queries.deleteJob(batch.batchId, jobs[1]!.jobId);
    const results = await aws.results.page(batch.batchId);
    expect(results.jobsProcessed).toBe(1);
    expect(results.partialResults).toMatchObject({ items: 3, pagesProcessed: 3 });
    expect(results.partialResults.processedJobs.map((job) => job.name)).toEqual(["kept"]);
  });

  it("says which is unknown: the batch, or the job in it", async () => {
    const { batch } = await seedBatch(aws, [{ name: "kept", status: "succeeded" }]);
    await expect(aws.queries.deleteJob("b-zzzzzzzz-00000000", "job-00001")).rejects.toBeInstanceOf(
      BatchNotFoundError,
    );
    await expect(aws.queries.deleteJob(batch.batchId, "job-00099")).rejects.toBeInstanceOf(
      JobNotFoundError,
    );
  });

  it("refuses to delete a job that is still active", async () => {
    const { batch, jobs } = await seedBatch(aws, [
      { name: "busy", status: "running", phase: "Ingest" },
    ]);
    await expect(aws.queries.deleteJob(batch.batchId, jobs[0]!.jobId)).rejects.toBeInstanceOf(
      JobActiveError,
    );
    expect((await aws.store.getJob(batch.batchId, jobs[0]!.jobId))?.status).toBe("running");
  });
});

describe("reading results", () => {
  it("reports an output cut short by a crash as its job's error, and still answers for the batch", async () => {
    // Prepare
    const processed = { jobsProcessed: 1, items: 0 };
    const { batch, jobs } = await seedBatch(
      aws,
      [
        { name: "whole", status: "succeeded", phase: "Ingest", numbers: processed },
        { name: "cut", status: "failed", phase: "Ingest", numbers: processed },
      ],
      { startedAt: "2026-01-01T00:00:00.000Z", totals: { jobsProcessed: 2 } },
    );
    await aws.outputs.putOutput({
      batchId: batch.batchId,
      jobId: jobs[0]!.jobId,
      jobName: "whole",
      phase: "Ingest",
      status: "complete",
      attempt: 1,
      startedAt: "2026-01-01T00:00:00.000Z",
      endedAt: "2026-01-01T00:00:01.000Z",
      output: { pages: 1, scoreSum: 50 },
    });
    await aws.s3.send(
      new PutObjectCommand({
        Bucket: aws.bucket,
        Key: `results/${batch.batchId}/${jobs[1]!.jobId}/Ingest/output.json`,
        Body: "",
        ContentLength: 0,
      }),
    );
    // Act
    const results = await aws.results.page(batch.batchId);
    // Assess
    expect(results.jobsProcessed).toBe(2);
    expect(results.partialResults.startTime).toBe("2026-01-01T00:00:00.000Z");
    expect(results.partialResults.processedJobs[0]?.phases[0]).toMatchObject({
      status: "complete",
      output: { pages: 1, scoreSum: 50 },
    });
    expect(results.partialResults.errors).toEqual([
      {
        jobId: jobs[1]!.jobId,
        name: "cut",
        phase: "Ingest",
        message: "the saved output of Ingest is unreadable: it is not valid JSON",
      },
    ]);
  });

  it("pages through the jobs with results, whatever the size of the batch", async () => {
    // Prepare: 5 jobs, 3 of them with results.
    const { batch } = await seedBatch(
      aws,
      ["a", "b", "c", "d", "e"].map((name, i) => ({
        name,
        status: "succeeded" as const,
        ...(i % 2 === 0 ? { numbers: { jobsProcessed: 1 } } : {}),
      })),
    );
    // Act
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await aws.results.page(batch.batchId, {
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.partialResults.processedJobs.map((job) => job.name));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor);
    // Assess
    expect(seen).toEqual(["a", "c", "e"]);
    expect(pages).toBeGreaterThanOrEqual(3);
    await expect(aws.results.page(batch.batchId, { cursor: "bm90LWEtY3Vyc29y" })).rejects.toThrow(
      /cursor/,
    );
  });
});

describe("consolidating results", () => {
  it("writes the results so far to permanent storage and says where", async () => {
    const { batch } = await seedBatch(aws, [{ name: "a", status: "succeeded" }]);
    const answer = await aws.results.consolidate(batch.batchId);
    expect(answer).toMatchObject({
      key: `consolidated/${batch.batchId}/results.json`,
      uri: `s3://stepbatch-test/consolidated/${batch.batchId}/results.json`,
    });
  });
});
