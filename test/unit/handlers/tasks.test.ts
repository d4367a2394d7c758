import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { SQSEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { phaseHandler } from "../../../functions/commons/phase-handler.ts";
import { handler as consolidate } from "../../../functions/handlers/api/consolidate.ts";
import { handler as finalize } from "../../../functions/handlers/tasks/finalize.ts";
import { handler as reconcile } from "../../../functions/handlers/tasks/reconcile.ts";
import { handler as recordFailure } from "../../../functions/handlers/tasks/record-job-failure.ts";
import { demoPhase } from "../../../pipelines/demo/work.ts";
import demo from "../../../stepbatch.config.ts";
import {
  batchItem as batchBase,
  batchId,
  executionArn,
  jobItem as jobBase,
} from "../../helpers/items.ts";
import { call, lambdaContext } from "../../helpers/lambda.ts";

const batch = (over: Record<string, unknown> = {}) => batchBase({ concurrency: 1, ...over });
const jobItem = (over: Record<string, unknown> = {}) =>
  jobBase({ input: { pages: 2, workMs: 2 }, ...over });

const dynamo = mockClient(DynamoDBDocumentClient);
const s3 = mockClient(S3Client);
beforeEach(() => {
  dynamo.reset();
  s3.reset();
  s3.on(ListObjectsV2Command).resolves({ Contents: [] });
  s3.on(PutObjectCommand).resolves({});
});

const ingest = phaseHandler(demoPhase("Ingest"), demo);

describe("a phase handler", () => {
  it("runs the phase, saves its output, items and checkpoints to S3 and answers a small outcome for the state machine", async () => {
    // Prepare
    dynamo
      .on(GetCommand)
      .callsFake((input) => ({ Item: input.Key.sk === "META" ? batch() : jobItem() }));
    s3.on(GetObjectCommand).rejects(Object.assign(new Error("missing"), { name: "NoSuchKey" }));
    let chunk = 0;
    dynamo
      .on(UpdateCommand)
      .callsFake((input) =>
        input.UpdateExpression.includes("itemChunks")
          ? { Attributes: { itemChunks: { Ingest: ++chunk } } }
          : { Attributes: jobItem({ status: "running" }) },
      );
    // Act
    const answer = await ingest(
      { batchId, jobId: "job-00001", phase: "Ingest", isFinal: false },
      lambdaContext(),
    );
    // Assess
    expect(answer).toEqual({ jobId: "job-00001", phase: "Ingest", outcome: "continue" });
    const saved = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    const prefix = `results/${batchId}/job-00001/Ingest/`;
    expect(saved.map((put) => put.Key)).toEqual([
      `${prefix}items/000001.json`,
      `${prefix}checkpoint.json`,
      `${prefix}items/000002.json`,
      `${prefix}checkpoint.json`,
      `${prefix}output.json`,
    ]);
    expect(JSON.parse(String(saved.at(-1)?.Body))).toMatchObject({
      status: "complete",
      output: { pages: 2, scoreSum: expect.any(Number) },
    });
  });

  it("refuses a malformed event with a ValidationError", async () => {
    await expect(
      ingest({ batchId, phase: "Ingest" } as never, lambdaContext()),
    ).rejects.toMatchObject({ name: "Validation" });
  });
});

describe("the workflow steps", () => {
  it("finalize sets the final status and writes a manifest and a consolidated copy", async () => {
    dynamo
      .on(GetCommand)
      .resolvesOnce({ Item: batch() })
      .resolves({ Item: batch({ status: "succeeded" }) });
    dynamo.on(QueryCommand).resolves({ Items: [jobItem({ status: "succeeded" })] });
    dynamo.on(UpdateCommand).resolves({ Attributes: batch({ status: "succeeded" }) });
    const answer = await finalize({ batchId }, lambdaContext());
    expect(answer).toMatchObject({ status: "succeeded", decidedBy: "finalize" });
    expect(s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key)).toEqual([
      `manifests/${batchId}.json`,
      `consolidated/${batchId}/results.json`,
    ]);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
  });

  it("record-job-failure fails the job with the Lambda error's message, and the phase it died in", async () => {
    const died = { status: "running", startedAt: "2026-01-01T00:00:01.000Z", attempt: 3 };
    dynamo.on(GetCommand).resolves({
      Item: jobItem({ status: "running", phase: "Digest", phases: { Digest: died } }),
    });
    dynamo.on(UpdateCommand).resolves({ Attributes: jobItem({ status: "failed" }) });
    const failure = {
      Error: "PhaseFailed",
      Cause: JSON.stringify({ errorType: "PhaseFailed", errorMessage: "Digest failed" }),
    };
    const answer = await recordFailure({ batchId, jobId: "job-00001", failure }, lambdaContext());
    expect(answer).toEqual({ jobId: "job-00001", status: "failed" });
    const update = dynamo.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(Object.values(update?.ExpressionAttributeValues ?? {})).toContainEqual({
      name: "PhaseFailed",
      message: "Digest failed",
    });
    expect(Object.values(update?.ExpressionAttributeValues ?? {})).toContainEqual({
      ...died,
      status: "failed",
      endedAt: expect.any(String),
      error: "Digest failed",
    });
  });

  it("reconcile reports a record it cannot read as a batch item failure, so SQS delivers it again", async () => {
    // Prepare: one unreadable record beside one for a batch that is not ours (ignored, fine).
    dynamo.on(GetCommand).resolves({});
    const notOurs = {
      executionArn: "arn:aws:states:us-east-1:1:execution:other:x",
      name: "x",
      status: "FAILED",
    };
    const event = {
      Records: [
        { messageId: "m1", body: "{not json" },
        {
          messageId: "m2",
          body: JSON.stringify({
            "detail-type": "Step Functions Execution Status Change",
            detail: notOurs,
          }),
        },
      ],
    } as unknown as SQSEvent;
    // Act
    const answer = await reconcile(event, lambdaContext());
    // Assess
    expect(answer).toEqual({ batchItemFailures: [{ itemIdentifier: "m1" }] });
  });

  it("reconcile fails the whole invocation when no record could be handled", async () => {
    const event = {
      Records: [
        { messageId: "m1", body: JSON.stringify({ "detail-type": "Something else", detail: {} }) },
      ],
    } as unknown as SQSEvent;
    await expect(reconcile(event, lambdaContext())).rejects.toThrow(/All records failed/);
  });

  it("reconcile turns a console stop into a cancelled batch", async () => {
    dynamo.on(GetCommand).resolves({ Item: batch() });
    dynamo.on(QueryCommand).resolves({ Items: [jobItem()] });
    dynamo.on(UpdateCommand).callsFake((input) => ({
      Attributes:
        input.Key.sk === "META"
          ? batch({ status: input.ExpressionAttributeValues[":v0"] })
          : jobItem({ status: "cancelled" }),
    }));
    dynamo.on(PutCommand).resolves({});
    const detail = {
      executionArn,
      name: batchId,
      status: "ABORTED",
      stopDate: Date.now(),
      error: null,
      cause: "from the console",
    };
    const event = {
      Records: [
        {
          messageId: "m1",
          body: JSON.stringify({ "detail-type": "Step Functions Execution Status Change", detail }),
        },
      ],
    } as unknown as SQSEvent;
    const answer = await reconcile(event, lambdaContext());
    expect(answer).toEqual({ batchItemFailures: [] });
    const statuses = dynamo
      .commandCalls(UpdateCommand)
      .map((c) => c.args[0].input.ExpressionAttributeValues?.[":v0"]);
    expect(statuses).toEqual(expect.arrayContaining(["cancelling", "cancelled"]));
  });
});

describe("POST /batches/{batchId}/consolidate", () => {
  it("writes every output and item under consolidated/ and answers where, without listing anything", async () => {
    // Prepare
    const sums = { jobsProcessed: 1, items: 1, pages: 1, scoreSum: 40 };
    dynamo.on(GetCommand).resolves({ Item: batch({ totals: sums }) });
    dynamo.on(QueryCommand).resolves({
      Items: [
        jobItem({
          status: "succeeded",
          phases: { Ingest: { status: "succeeded", startedAt: "a", endedAt: "b", attempt: 1 } },
          numbers: sums,
          itemChunks: { Ingest: 1 },
          itemCounts: { Ingest: 1 },
        }),
      ],
    });
    const prefix = `results/${batchId}/job-00001/Ingest/`;
    const objects: Record<string, unknown> = {
      [`${prefix}output.json`]: {
        batchId,
        jobId: "job-00001",
        jobName: "RY.TO",
        phase: "Ingest",
        status: "complete",
        attempt: 1,
        startedAt: "a",
        endedAt: "b",
        output: { pages: 1, scoreSum: 40 },
      },
      [`${prefix}items/000001.json`]: [{ page: 1, score: 40 }],
    };
    s3.on(GetObjectCommand).callsFake((input) => {
      const found = objects[input.Key];
      if (!found) throw Object.assign(new Error("missing"), { name: "NoSuchKey" });
      return { Body: { transformToString: async () => JSON.stringify(found) } };
    });
    // Act
    const { status, body } = await call(consolidate, {
      method: "POST",
      pathParameters: { batchId },
    });
    // Assess
    expect(status).toBe(200);
    expect(body).toMatchObject({
      key: `consolidated/${batchId}/results.json`,
      jobsProcessed: 1,
      jobsWritten: 1,
      partialResults: { pagesProcessed: 1, averageScore: 40, items: 1 },
    });
    const written = JSON.parse(String(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Body));
    expect(written.jobs[0].phases[0]).toMatchObject({
      output: { pages: 1, scoreSum: 40 },
      items: [{ page: 1, score: 40 }],
    });
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
  });
});
