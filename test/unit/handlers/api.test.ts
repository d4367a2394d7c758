import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { SFNClient, StartExecutionCommand, StopExecutionCommand } from "@aws-sdk/client-sfn";
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { handler as cancelBatch } from "../../../functions/handlers/api/cancel-batch.ts";
import { handler as cancelJob } from "../../../functions/handlers/api/cancel-job.ts";
import { handler as deleteJob } from "../../../functions/handlers/api/delete-job.ts";
import { handler as getBatch } from "../../../functions/handlers/api/get-batch.ts";
import { handler as getJob } from "../../../functions/handlers/api/get-job.ts";
import { handler as getResults } from "../../../functions/handlers/api/get-results.ts";
import { handler as listBatches } from "../../../functions/handlers/api/list-batches.ts";
import { submitHandler } from "../../../functions/handlers/api/submit-batch.ts";
import { demoPhase } from "../../../pipelines/demo/work.ts";
import demo from "../../../stepbatch.config.ts";
import { batchId, batchItem, jobItem } from "../../helpers/items.ts";
import { call } from "../../helpers/lambda.ts";

const dynamo = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const s3 = mockClient(S3Client);

beforeEach(() => {
  dynamo.reset();
  sfn.reset();
  s3.reset();
  s3.on(ListObjectsV2Command).resolves({ Contents: [] });
});

const submitBatch = submitHandler(demo, [demoPhase("Ingest"), demoPhase("Digest")]);

describe("POST /batches", () => {
  it("starts an execution named by the new batch id and answers 202", async () => {
    // Prepare
    dynamo.on(BatchWriteCommand).resolves({});
    dynamo.on(PutCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: "arn:x" });
    // Act
    const { status, body } = await call(submitBatch, {
      method: "POST",
      body: { jobs: ["RY.TO", "TD.TO"] },
    });
    // Assess
    expect(status).toBe(202);
    expect(body).toMatchObject({
      status: "queued",
      total: 2,
      jobs: [
        { jobId: "job-00001", name: "RY.TO" },
        { jobId: "job-00002", name: "TD.TO" },
      ],
    });
    const start = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(start?.name).toBe(body.batchId);
    expect(start?.stateMachineArn).toBe(process.env.STATE_MACHINE_ARN);
    expect(body.executionArn).toBe(
      `arn:aws:states:us-east-1:123456789012:execution:stepbatch-test:${body.batchId}`,
    );
  });

  it.each([
    [undefined, /request body is required/],
    ["{oops", /not valid JSON/],
    [{ jobs: [] }, /at least one job/],
    [{ jobs: ["a"], concurrency: 99 }, /concurrency must be at most 40/],
    [
      { jobs: ["a", { name: "b", input: { pages: "many" } }] },
      /jobs\[1\]\.input\.pages: Invalid input: expected number, received string \(the demo pipeline's input\)/,
    ],
  ])("answers 400 for body %j, naming the problem, and writes nothing", async (body, message) => {
    const { status, body: answer } = await call(submitBatch, { method: "POST", body });
    expect(status).toBe(400);
    expect(answer.error.code).toBe("VALIDATION_FAILED");
    expect(answer.error.message).toMatch(message);
    expect(dynamo.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });

  it("answers 400 for a malformed Idempotency-Key", async () => {
    const { status, body } = await call(submitBatch, {
      method: "POST",
      body: { jobs: ["a"] },
      headers: { "Idempotency-Key": "has spaces" },
    });
    expect(status).toBe(400);
    expect(body.error.message).toMatch(/Idempotency-Key/);
  });

  it("answers 502 and records the batch as failed when the execution cannot start", async () => {
    // Prepare
    dynamo.on(BatchWriteCommand).resolves({});
    dynamo.on(PutCommand).resolves({});
    dynamo.on(UpdateCommand).resolves({ Attributes: batchItem({ status: "failed" }) });
    sfn
      .on(StartExecutionCommand)
      .rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    // Act
    const { status, body } = await call(submitBatch, { method: "POST", body: { jobs: ["a"] } });
    // Assess
    expect(status).toBe(502);
    expect(body.error).toMatchObject({
      code: "EXECUTION_START_FAILED",
      message: expect.stringMatching(/Rate exceeded/),
    });
    const statuses = dynamo
      .commandCalls(UpdateCommand)
      .map((c) => c.args[0].input.ExpressionAttributeValues?.[":v0"]);
    expect(statuses).toContain("failed");
  });
});

describe("GET routes", () => {
  it("answers 404 for an unknown batch", async () => {
    dynamo.on(GetCommand).resolves({});
    const { status, body } = await call(getBatch, { pathParameters: { batchId } });
    expect(status).toBe(404);
    expect(body.error).toEqual({
      code: "BATCH_NOT_FOUND",
      message: `Batch ${batchId} not found`,
      details: { batchId },
    });
  });

  it("answers 404 for a batch id that is not one, saying what ids look like, without reading anything", async () => {
    const { status, body } = await call(getBatch, { pathParameters: { batchId: "../../etc" } });
    expect(status).toBe(404);
    expect(body.error.code).toBe("BATCH_NOT_FOUND");
    expect(body.error.message).toMatch(/Batch '..\/..\/etc' not found \(batch ids look like/);
    expect(dynamo.calls()).toHaveLength(0);
  });

  it("shows a batch with its progress from its counts and its running jobs, reading no other job", async () => {
    // Prepare
    const jobCounts = {
      total: 1000,
      queued: 0,
      running: 1,
      succeeded: 999,
      failed: 0,
      cancelled: 0,
    };
    dynamo.on(GetCommand).resolves({ Item: batchItem({ total: 1000, jobCounts }) });
    dynamo.on(QueryCommand).resolves({ Items: [] });
    dynamo
      .on(QueryCommand, { IndexName: "activeJobs" })
      .resolves({ Items: [jobItem({ status: "running", phase: "Ingest" })] });
    dynamo
      .on(QueryCommand, { ExclusiveStartKey: { pk: `BATCH#${batchId}`, sk: "JOB#job-00990" } })
      .resolves({ Items: [jobItem({ jobId: "job-00991", status: "succeeded" })] });

    // Act
    const { status, body } = await call(getBatch, {
      pathParameters: { batchId },
      query: { jobsOffset: "990", jobsLimit: "5" },
    });

    // Assess
    expect(status).toBe(200);
    expect(body.progress).toMatchObject({ total: 1000, running: 1, succeeded: 999, percent: 99.9 });
    expect(body.current).toEqual([
      expect.objectContaining({ jobId: "job-00001", phase: "Ingest" }),
    ]);
    expect(body.jobs).toEqual([expect.objectContaining({ jobId: "job-00991" })]);
    const limits = dynamo.commandCalls(QueryCommand).map((c) => c.args[0].input.Limit);
    expect(limits).toContain(5);
    expect(dynamo.commandCalls(QueryCommand)).toHaveLength(3);
  });

  it("shows a batch submitted before job counts were kept from every job", async () => {
    // Prepare
    dynamo.on(GetCommand).resolves({ Item: batchItem() });
    dynamo
      .on(QueryCommand)
      .resolves({ Items: [batchItem(), jobItem({ status: "running", phase: "Ingest" })] });

    // Act
    const { status, body } = await call(getBatch, { pathParameters: { batchId } });

    // Assess
    expect(status).toBe(200);
    expect(body.progress).toMatchObject({ total: 1, running: 1, percent: 0 });
    expect(body.current).toEqual([
      expect.objectContaining({ jobId: "job-00001", phase: "Ingest" }),
    ]);
  });

  it("answers 404 for an unknown job and for the results of an unknown batch", async () => {
    dynamo.on(GetCommand).resolves({});
    expect((await call(getJob, { pathParameters: { batchId, jobId: "job-00009" } })).status).toBe(
      404,
    );
    expect((await call(getResults, { pathParameters: { batchId } })).status).toBe(404);
  });

  it("answers 400 for a bad list query", async () => {
    const { status, body } = await call(listBatches, { query: { limit: "0" } });
    expect(status).toBe(400);
    expect(body.error.message).toMatch(/limit must be at least 1/);
  });
});

describe("POST /batches/{batchId}/jobs/{jobId}/cancel", () => {
  it("answers 409 JOB_ALREADY_FINISHED for a finished job", async () => {
    dynamo.on(GetCommand).resolves({ Item: jobItem({ status: "succeeded" }) });
    const { status, body } = await call(cancelJob, {
      method: "POST",
      pathParameters: { batchId, jobId: "job-00001" },
    });
    expect(status).toBe(409);
    expect(body.error.code).toBe("JOB_ALREADY_FINISHED");
  });

  it("answers 200 with the job when a queued job is cancelled", async () => {
    dynamo.on(GetCommand).resolves({ Item: jobItem() });
    dynamo.on(UpdateCommand).resolves({ Attributes: jobItem({ status: "cancelled" }) });
    dynamo.on(PutCommand).resolves({});
    const { status, body } = await call(cancelJob, {
      method: "POST",
      pathParameters: { batchId, jobId: "job-00001" },
      body: { reason: "wrong one" },
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: "cancelled",
      jobId: "job-00001",
      name: "RY.TO",
      wasInPhase: null,
    });
  });
  it("records the caller's claimed name as a claim, never as who cancelled, so nobody passes for stepbatch", async () => {
    // Prepare
    dynamo.on(GetCommand).resolves({ Item: jobItem() });
    dynamo.on(UpdateCommand).callsFake((input) => ({
      Attributes: jobItem({ status: "cancelled", cancel: input.ExpressionAttributeValues[":v1"] }),
    }));
    dynamo.on(PutCommand).resolves({});
    // Act
    const { status } = await call(cancelJob, {
      method: "POST",
      pathParameters: { batchId, jobId: "job-00001" },
      headers: { "X-Stepbatch-Actor": "system" },
    });
    // Assess
    expect(status).toBe(200);
    const intent = dynamo.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues?.[
      ":v1"
    ] as Record<string, unknown>;
    expect(intent).toMatchObject({ by: "operator", claimedBy: "system" });
    const audit = dynamo
      .commandCalls(PutCommand)
      .map((call) => call.args[0].input.Item)
      .find((item) => item?.type === "audit");
    expect(audit).toMatchObject({ action: "cancel_job", by: "operator", claimedBy: "system" });
  });
});

describe("POST /batches/{batchId}/cancel", () => {
  it("answers a cancel of an already cancelled batch with its state and does not stop anything", async () => {
    dynamo.on(GetCommand).resolves({
      Item: batchItem({
        status: "cancelled",
        cancel: { requestedAt: "t", by: "x", reason: "r", scope: "batch" },
      }),
    });
    dynamo.on(QueryCommand).resolves({ Items: [jobItem({ status: "cancelled" })] });
    const { status, body } = await call(cancelBatch, {
      method: "POST",
      pathParameters: { batchId },
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: "cancelled",
      alreadyCancelled: true,
      jobsCancelled: 1,
      hasResults: false,
    });
    expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(0);
  });

  it("stops the execution with BatchCancelled and the reason", async () => {
    // Prepare
    dynamo.on(GetCommand).resolves({ Item: batchItem() });
    dynamo.on(UpdateCommand).callsFake((input) => ({
      Attributes:
        input.Key.sk === "META"
          ? batchItem({ status: input.ExpressionAttributeValues[":v0"] })
          : jobItem({ status: "cancelled" }),
    }));
    dynamo.on(QueryCommand).resolves({ Items: [jobItem()] });
    dynamo.on(PutCommand).resolves({});
    sfn.on(StopExecutionCommand).resolves({});
    // Act
    const { status, body } = await call(cancelBatch, {
      method: "POST",
      pathParameters: { batchId },
      body: { reason: "wrong batch" },
    });
    // Assess
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: "cancelled",
      jobsCancelled: 1,
      jobs: ["RY.TO"],
      jobsProcessed: 0,
      hasResults: false,
    });
    expect(sfn.commandCalls(StopExecutionCommand)[0]?.args[0].input).toMatchObject({
      error: "BatchCancelled",
      cause: "wrong batch",
    });
  });

  it("answers a subset cancel with an outcome per item", async () => {
    dynamo.on(GetCommand).resolves({ Item: batchItem() });
    dynamo.on(QueryCommand).resolves({ Items: [jobItem({ status: "succeeded" })] });
    dynamo.on(PutCommand).resolves({});
    const { status, body } = await call(cancelBatch, {
      method: "POST",
      pathParameters: { batchId },
      body: { jobs: ["RY.TO", "nope"] },
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      result: 0,
      outcomes: {
        "RY.TO": { code: 1, outcome: "already_finished" },
        nope: { code: 2, outcome: "not_found" },
      },
    });
  });

  it("answers 400 for an unknown field in the body", async () => {
    const { status, body } = await call(cancelBatch, {
      method: "POST",
      pathParameters: { batchId },
      body: { jobz: ["a"] },
    });
    expect(status).toBe(400);
    expect(body.error.message).toMatch(/unknown field\(s\) 'jobz'/);
  });
});

describe("DELETE /batches/{batchId}/jobs/{jobId}", () => {
  it("answers 409 JOB_ACTIVE for a running job", async () => {
    dynamo
      .on(DeleteCommand)
      .rejects(new ConditionalCheckFailedException({ message: "no", $metadata: {} }));
    dynamo.on(GetCommand).resolves({ Item: jobItem({ status: "running" }) });
    const { status, body } = await call(deleteJob, {
      method: "DELETE",
      pathParameters: { batchId, jobId: "job-00001" },
    });
    expect(status).toBe(409);
    expect(body.error.code).toBe("JOB_ACTIVE");
  });
});

describe("an unexpected failure", () => {
  it("answers 500 without leaking the cause", async () => {
    dynamo.on(QueryCommand).rejects(new Error("socket hang up at 10.0.0.1"));
    const { status, body } = await call(getBatch, { pathParameters: { batchId } });
    expect(status).toBe(500);
    expect(body.error.code).toBe("INTERNAL");
    expect(body.error.message).not.toMatch(/10\.0\.0\.1/);
  });
});
