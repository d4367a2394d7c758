import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAwsJsonService } from "../../local/aws-json-service.ts";
import {
  dynamoClient,
  provisionBucket,
  provisionTable,
  type RunningService,
  s3Client,
  startDynamo,
  startS3,
} from "../../local/emulators.ts";
import { stateTableDefinition } from "../helpers/local-aws.ts";
import {
  dynamoRequest,
  hangUpMidRequest,
  nestedAttributeJson,
  rawRequest,
} from "../helpers/raw-http.ts";

// Each emulator runs in the local stack's process: whatever one request does, the answer is an
// error for that request, and the next request is served.

describe("DynamoDB (dynalite)", () => {
  let dynamo: RunningService;
  beforeAll(async () => {
    dynamo = await startDynamo();
    await provisionTable(dynamoClient(dynamo.endpoint), stateTableDefinition("robust"));
  });
  afterAll(async () => dynamo?.close());

  it("refuses an item nested 1,000 levels deep as DynamoDB refuses too deep an item, and keeps serving", async () => {
    // Act
    const refused = await dynamoRequest(
      dynamo.endpoint,
      "PutItem",
      `{"TableName":"robust","Item":{"pk":{"S":"a"},"sk":{"S":"b"},"deep":${nestedAttributeJson(1_000)}}}`,
    );
    const next = await dynamoClient(dynamo.endpoint).send(
      new PutItemCommand({ TableName: "robust", Item: { pk: { S: "a" }, sk: { S: "b" } } }),
    );
    // Assess
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({
      __type: "com.amazon.coral.validate#ValidationException",
      message: "Nesting Levels have exceeded supported limits",
    });
    expect(next.$metadata.httpStatusCode).toBe(200);
  });

  it("keeps serving after a client hangs up in the middle of a request", async () => {
    // Act
    await hangUpMidRequest(
      dynamo.endpoint,
      "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.0",
      '{"TableName":',
    );
    const health = await rawRequest(dynamo.endpoint, "GET", "/");
    // Assess
    expect(health.status).toBe(200);
  });
});

describe("S3 (s3rver)", () => {
  let s3: RunningService;
  beforeAll(async () => {
    s3 = await startS3();
    await provisionBucket(s3Client(s3.endpoint), "robust");
  });
  afterAll(async () => s3?.close());

  it("answers 500 to a key its file system cannot hold, and keeps serving", async () => {
    // Act: a 250-character last segment is a file name longer than the file system allows
    const refused = await s3Client(s3.endpoint)
      .send(new PutObjectCommand({ Bucket: "robust", Key: `x/${"a".repeat(250)}`, Body: "data" }))
      .catch((error: { $metadata?: { httpStatusCode?: number } }) => error);
    const next = await s3Client(s3.endpoint).send(
      new PutObjectCommand({ Bucket: "robust", Key: "x/short", Body: "data" }),
    );
    // Assess
    expect(refused.$metadata?.httpStatusCode).toBe(500);
    expect(next.$metadata.httpStatusCode).toBe(200);
  });
});

describe("a local AWS JSON service", () => {
  let service: RunningService;
  beforeAll(async () => {
    service = await startAwsJsonService({
      name: "Test",
      targetPrefix: "Test",
      operations: {
        Unserialisable: () => ({ count: 1n }),
        Echo: (input: unknown) => ({ input }),
      },
    });
  });
  afterAll(async () => service?.close());

  const call = (operation: string, body: string) =>
    rawRequest(service.endpoint, "POST", "/", {
      headers: { "x-amz-target": `Test.${operation}` },
      body,
    });

  it("answers 500 InternalFailure when an operation's answer cannot be serialised, and keeps serving", async () => {
    // Act
    const failed = await call("Unserialisable", "{}");
    const next = await call("Echo", '{"a":1}');
    // Assess
    expect(failed.status).toBe(500);
    expect(failed.body).toMatchObject({ __type: "InternalFailure" });
    expect(next).toMatchObject({ status: 200, body: { input: { a: 1 } } });
  });

  it("answers 400 SerializationException to a body that is not JSON", async () => {
    // Act
    const answer = await call("Echo", "{not json");
    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ __type: "SerializationException" });
  });
});
