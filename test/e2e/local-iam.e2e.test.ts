import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepbatchStack } from "../../infra/stepbatch-stack.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { withoutGrant, withoutVariable } from "../helpers/cdk-edits.ts";
import {
  type Api,
  client,
  type E2ETarget,
  job,
  waitFor,
  waitForBatchEnd,
  waitForRunning,
} from "../helpers/e2e.ts";

// The local stack enforces what AWS enforces: these tests leave a grant or a variable out of the
// CDK code and show the local path failing as a deployment would. They always run it.
let local: LocalStack;
let api: Api;
const failedRequests: string[] = [];
const functionLogs: { functionName: string; text: string }[] = [];
beforeAll(async () => {
  local = await startLocalStack({
    port: 0,
    logError: (line) => failedRequests.push(line),
    functionLog: ({ functionName, text }) => functionLogs.push({ functionName, text }),
    stack: (app) => {
      const stack = new StepbatchStack(app, "Stepbatch");
      withoutGrant(stack, "Api/CancelBatch", "states:StopExecution");
      withoutGrant(stack, "Workflow/DigestPhase", "s3:PutObject");
      withoutVariable(stack, "Api/ListBatches", "TABLE_NAME");
      return stack;
    },
  });
  api = client({ apiUrl: local.apiUrl, token: local.token } as E2ETarget);
}, 120_000);
afterAll(async () => local?.stop());

const loggedBy = (functionPrefix: string, pattern: RegExp) =>
  functionLogs.filter((l) => l.functionName.startsWith(functionPrefix) && pattern.test(l.text));

describe("the local stack with a grant left out of the CDK code", () => {
  it("refuses the cancel function's StopExecution with AccessDenied, naming the action and the execution", async () => {
    // Prepare
    const submitted = await api.submit({ jobs: [job("slow", { pages: 5, workMs: 5000 })] });
    const { batchId } = submitted.body;
    await waitForRunning(api, batchId, 1);
    // Act
    const answer = await api.cancel(batchId);
    // Assess
    expect(answer.status).toBe(500);
    const denied = loggedBy("ApiCancelBatch", /AccessDeniedException/);
    expect(denied).toHaveLength(1);
    expect(denied[0]?.text).toMatch(
      new RegExp(
        `assumed-role/ApiCancelBatchRole[0-9A-F]+/ApiCancelBatchFunction[0-9A-F]+ is not authorized to perform: states:StopExecution on resource: arn:aws:states:us-east-1:000000000000:execution:[^:]+:${batchId} because no identity-based policy allows the states:StopExecution action`,
      ),
    );
  });

  it("fails a phase whose role cannot write to the results bucket with AccessDenied, and the job with it", async () => {
    // Prepare
    const submitted = await api.submit({ jobs: [job("quick", { pages: 1, workMs: 0 })] });
    // Act
    const ended = await waitForBatchEnd(api, submitted.body.batchId);
    const failed = await api.job(submitted.body.batchId, "job-00001");
    // Assess
    expect(ended.status).toBe("failed");
    expect(failed.body.phases).toEqual([
      expect.objectContaining({ name: "Ingest", status: "succeeded" }),
      expect.objectContaining({
        name: "Digest",
        status: "failed",
        error: expect.stringMatching(/not authorized to perform: s3:PutObject/),
      }),
    ]);
    expect(failed.body.error.message).toMatch(
      /DigestPhaseRole[0-9A-F]+\/WorkflowDigestPhaseFunction[0-9A-F]+ is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::[a-z0-9-]+\/.+ because no identity-based policy allows the s3:PutObject action/,
    );
  });
});

describe("the local stack with a variable left out of the CDK code", () => {
  it("fails the function at its cold start with a message naming the variable", async () => {
    // Act
    const answer = await api.call("GET", "/batches");
    // Assess
    expect(answer.status).toBe(500);
    const failure = await waitFor(
      async () =>
        failedRequests.find((line) => line.includes("(GET /batches, function ApiListBatches")),
      "the failed request to be reported",
    );
    expect(failure).toMatch(/stepbatch configuration is invalid: TABLE_NAME/);
  });
});
