import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { type Api, client, type E2ETarget, job } from "../helpers/e2e.ts";
import {
  dynamoRequest,
  hangUpMidRequest,
  nestedAttributeJson,
  rawRequest,
} from "../helpers/raw-http.ts";

// The embedded local stack itself: its emulators, its API gateway and its /_local routes. So this
// suite always runs the local stack, whatever E2E_API_URL says.
let stack: LocalStack;
let api: Api;
beforeAll(async () => {
  stack = await startLocalStack({ port: 0 });
  api = client({ apiUrl: stack.apiUrl, token: stack.token } as E2ETarget);
}, 60_000);
afterAll(async () => stack?.stop());

const auth = () => ({ authorization: `Bearer ${stack.token}` });

describe("the local stack under requests that crash an emulator's handler", () => {
  it("refuses an item nested 1,000 levels deep sent straight to its DynamoDB, and still answers the API", async () => {
    // Act
    const refused = await dynamoRequest(
      stack.endpoints.dynamodb,
      "PutItem",
      `{"TableName":"any-table","Item":{"pk":{"S":"x"},"deep":${nestedAttributeJson(1_000)}}}`,
    );
    const listed = await api.call("GET", "/batches");
    // Assess
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe("Nesting Levels have exceeded supported limits");
    expect(listed.status).toBe(200);
  });

  it("still answers the API after a client hangs up mid-request on its DynamoDB", async () => {
    // Act
    await hangUpMidRequest(
      stack.endpoints.dynamodb,
      "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.0",
      '{"TableName":',
    );
    const listed = await api.call("GET", "/batches");
    // Assess
    expect(listed.status).toBe(200);
  });
  it("still answers the API after a client hangs up mid-request on the API itself", async () => {
    // Act
    await hangUpMidRequest(
      stack.apiUrl,
      `POST /batches HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${stack.token}\r\nContent-Type: application/json`,
      '{"jobs":',
    );
    const listed = await api.call("GET", "/batches");
    // Assess
    expect(listed.status).toBe(200);
  });
});

describe("routing on the raw path, as API Gateway does", () => {
  let batchId: string;
  beforeAll(async () => {
    const submitted = await api.submit({
      jobs: [job("slow", { pages: 2, workMs: 30_000 })],
      concurrency: 1,
    });
    batchId = submitted.body.batchId;
  });
  afterAll(async () => {
    await api.cancel(batchId, { reason: "end of the routing tests" });
  });

  it.each([
    ["an encoded ..", "%2E%2E"],
    ["a raw ..", ".."],
    ["an encoded .", "%2E"],
    ["a raw .", "."],
  ])(
    "sends a job cancel with %s for the job id to the job-cancel route, which refuses it",
    async (_, segment) => {
      // Act
      const answer = await rawRequest(
        stack.apiUrl,
        "POST",
        `/batches/${batchId}/jobs/${segment}/cancel`,
        { headers: auth(), body: "{}" },
      );
      const batch = await api.batch(batchId);
      // Assess: the job route's handler refuses the id (400 or 404); the batch is untouched
      expect([400, 404]).toContain(answer.status);
      expect(answer.body.error.code).toMatch(/VALIDATION_FAILED|JOB_NOT_FOUND/);
      expect(batch.body.cancel).toBeUndefined();
      expect(["queued", "running"]).toContain(batch.body.status);
    },
  );

  it("answers GET /batches/{id}/jobs/.. from the job route, not with the batch", async () => {
    // Act
    const answer = await rawRequest(stack.apiUrl, "GET", `/batches/${batchId}/jobs/..`, {
      headers: auth(),
    });
    // Assess
    expect([400, 404]).toContain(answer.status);
    expect(answer.body.error.code).toMatch(/VALIDATION_FAILED|JOB_NOT_FOUND/);
  });

  it("answers API Gateway's unknown-route 403 to a dot segment no route has a parameter for", async () => {
    // Act
    const answer = await rawRequest(stack.apiUrl, "POST", `/batches/${batchId}/x/../cancel`, {
      headers: auth(),
      body: "{}",
    });
    const batch = await api.batch(batchId);
    // Assess
    expect(answer.status).toBe(403);
    expect(answer.body.error.message).toContain("Missing Authentication Token");
    expect(batch.body.cancel).toBeUndefined();
  });

  it("decodes each path parameter after matching, and serves the stage prefix and a trailing slash", async () => {
    // Act
    const encoded = await rawRequest(stack.apiUrl, "GET", `/batches/${batchId}/jobs/job%2D00001`, {
      headers: auth(),
    });
    const staged = await rawRequest(stack.apiUrl, "GET", `/v1/batches/${batchId}/`, {
      headers: auth(),
    });
    // Assess
    expect(encoded.status).toBe(200);
    expect(encoded.body.jobId).toBe("job-00001");
    expect(staged.status).toBe(200);
    expect(staged.body.batchId).toBe(batchId);
  });
});

describe("the /_local routes", () => {
  // the demo config's nightly-tickers, named as the stack deploys it (with its prefix).
  const NIGHTLY = "Stepbatch-nightly-tickers";
  const run = (name: string, body: string | undefined, headers: Record<string, string> = auth()) =>
    rawRequest(stack.apiUrl, "POST", `/_local/schedules/${name}/run`, {
      headers,
      ...(body !== undefined ? { body } : {}),
    });

  it("answers 401 to a request without a token", async () => {
    // Act
    const answer = await run(NIGHTLY, undefined, {});
    // Assess
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe("UNAUTHORIZED");
  });

  it.each([
    ["Authorization: Bearer", { authorization: "Bearer not-the-token" }],
    ["X-Admin-Token", { "x-admin-token": "not-the-token" }],
  ])("answers 403 to a wrong token sent as %s", async (_, headers) => {
    // Act
    const answer = await rawRequest(stack.apiUrl, "GET", "/_local/schedules", { headers });
    // Assess
    expect(answer.status).toBe(403);
    expect(answer.body.error.code).toBe("FORBIDDEN");
  });

  it("accepts the token as X-Admin-Token", async () => {
    // Act
    const answer = await rawRequest(stack.apiUrl, "GET", "/_local/schedules", {
      headers: { "x-admin-token": stack.token },
    });
    // Assess
    expect(answer.status).toBe(200);
    expect(answer.body.schedules.map((s: { name: string }) => s.name)).toContain(NIGHTLY);
  });

  it("answers 400 naming the problem to a body that is not JSON", async () => {
    // Act
    const answer = await run(NIGHTLY, '{"scheduledTime": ');
    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe("VALIDATION_FAILED");
    expect(answer.body.error.message).toMatch(/^request body is not valid JSON: /);
  });

  it("answers 404, never 500, to a schedule name with a malformed % escape", async () => {
    // Act
    const answer = await run("nightly%E0%A4%A", "{}");
    // Assess
    expect(answer.status).toBe(404);
    expect(answer.body.error.code).toBe("SCHEDULE_NOT_FOUND");
  });

  it.each([
    ["a number", 1_893_456_000],
    ["a string with a quote in it", 'x"y'],
    ["a date that is not in the calendar", "2030-02-30T02:00:00Z"],
    ["a time with an offset instead of UTC", "2030-01-01T02:00:00+01:00"],
    ["a date without a time", "2030-01-01"],
  ])("answers 400 to a scheduledTime that is %s", async (_, scheduledTime) => {
    // Act
    const answer = await run(NIGHTLY, JSON.stringify({ scheduledTime }));
    // Assess
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({
      code: "VALIDATION_FAILED",
      message: expect.stringContaining("scheduledTime must be an ISO-8601 UTC timestamp"),
    });
  });
});
