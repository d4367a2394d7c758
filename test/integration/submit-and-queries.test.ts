import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BatchNotFoundError,
  ExecutionStartError,
  IdempotencyConflictError,
  JobActiveError,
  JobNotFoundError,
  ValidationError,
} from "../../functions/domain/errors";
import type { ExecutionInput } from "../../functions/domain/submit";
import { type LocalAws, seedBatch, startLocalAws } from "../helpers/local-aws";

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
    const started = aws.workflow.started.find((s) => s.name === answer.batchId);
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
    expect(aws.workflow.started.filter((s) => s.name === first.batchId)).toHaveLength(1);
  });

  it("refuses an Idempotency-Key reused for a different request", async () => {
    await aws.submit.submit({ jobs: ["X"] }, { idempotencyKey: "reused" });
    await expect(
      aws.submit.submit({ jobs: ["Y"] }, { idempotencyKey: "reused" }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
  });

  it("records a batch whose execution could not start as failed, with the reason, and leaves no job queued", async () => {
    // Prepare
    aws.workflow.failNextStart = Object.assign(new Error("Rate exceeded"), {
      name: "ThrottlingException",
    });
    // Act
    const attempt = aws.submit.submit({ jobs: ["P", "Q"] });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ExecutionStartError);
    const listed = await aws.queries.list({ status: "failed", limit: 10 });
    const failed = listed.batches[0];
    expect(failed).toBeDefined();
    const status = await aws.queries.status(failed!.batchId);
    expect(status.error).toMatchObject({ name: "ThrottlingException", message: "Rate exceeded" });
    expect(status.progress).toMatchObject({ total: 2, failed: 2, queued: 0 });
  });
});

describe("reading batches and jobs", () => {
  it("shows progress, the jobs running now, and the seed-compatible failed_jobs", async () => {
    // Prepare
    const { batch } = await seedBatch(aws, [
      { name: "a", status: "succeeded" },
      { name: "b", status: "failed" },
      { name: "c", status: "cancelled" },
      { name: "d", status: "running", phase: "Digest" },
    ]);
    // Act
    const status = await aws.queries.status(batch.batchId);
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

  it("refuses a cursor it did not issue", async () => {
    await expect(aws.queries.list({ cursor: "bm90LWEtY3Vyc29y" })).rejects.toThrow(/cursor/);
  });

  it("says an unknown batch is not found", async () => {
    await expect(aws.queries.status("b-zzzzzzzz-00000000")).rejects.toBeInstanceOf(
      BatchNotFoundError,
    );
    await expect(aws.results.resultsOf("b-zzzzzzzz-00000000")).rejects.toBeInstanceOf(
      BatchNotFoundError,
    );
  });
});

describe("deleting a job", () => {
  it("deletes a finished job's record", async () => {
    const { batch, jobs } = await seedBatch(aws, [{ name: "gone", status: "cancelled" }]);
    const answer = await aws.queries.deleteJob(batch.batchId, jobs[0]!.jobId);
    expect(answer).toMatchObject({ deleted: true, name: "gone", status: "cancelled" });
    await expect(aws.queries.job(batch.batchId, jobs[0]!.jobId)).rejects.toBeInstanceOf(
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
