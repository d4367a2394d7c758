import { Duration } from "aws-cdk-lib";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import type { Construct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateEntry, loadPipeline } from "../../infra/pipeline.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { client, type E2ETarget, waitFor } from "../helpers/e2e.ts";

// A phase on a function the user built (phaseFunctions.Commit.existingFunction) runs on the local
// stack as on AWS: the local stack runs whatever Node.js bundle the template's function names.
let stack: LocalStack;
let api: ReturnType<typeof client>;
beforeAll(async () => {
  const ownCommit = (scope: Construct) =>
    new NodejsFunction(scope, "OwnCommit", {
      entry: generateEntry(loadPipeline("stepbatch.config.ts"), "phase", "Commit"),
      runtime: lambda.Runtime.NODEJS_24_X,
      description: "the user's own Commit function",
      timeout: Duration.minutes(1),
      bundling: {
        format: OutputFormat.ESM,
        banner:
          "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
        externalModules: ["@aws-sdk/*"],
      },
    });
  stack = await startLocalStack({
    port: 0,
    stackProps: { phaseFunctions: { Commit: { existingFunction: ownCommit } } },
  });
  api = client({ apiUrl: stack.apiUrl, token: stack.token } as E2ETarget);
}, 120_000);
afterAll(async () => stack?.stop());

describe("a phase on a function of the user's own, on the local stack", () => {
  it("runs the job through every phase, the last one on the user's function", async () => {
    // Act
    const submitted = await api.submit({
      jobs: [{ name: "RY.TO", input: { pages: 2, workMs: 20 } }],
    });
    const batchId = submitted.body.batchId as string;
    const ended = await waitFor(async () => {
      const batch = await api.batch(batchId);
      return batch.body.status === "succeeded" ? batch.body : undefined;
    }, "the batch to succeed");
    const jobId = submitted.body.jobs[0].jobId as string;
    const output = await api.call("GET", `/batches/${batchId}/jobs/${jobId}/output`);
    // Assess
    expect(ended.progress).toMatchObject({ succeeded: 1, total: 1 });
    expect(
      output.body.phases.map((p: { phase: string; status: string }) => [p.phase, p.status]),
    ).toEqual([
      ["Ingest", "complete"],
      ["Digest", "complete"],
      ["Commit", "complete"],
    ]);
  });
});
