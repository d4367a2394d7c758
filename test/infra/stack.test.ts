import { Match } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { stateMachineDefinition, synthStack } from "../helpers/synth.ts";

let synth: ReturnType<typeof synthStack>;
beforeAll(() => {
  synth = synthStack();
});

/** Every state in the definition, including those inside Map processors. */
function allStates(states: Record<string, any>): Record<string, any> {
  const found: Record<string, any> = {};
  for (const [name, state] of Object.entries(states)) {
    found[name] = state;
    const inner = state.ItemProcessor?.States ?? state.Iterator?.States;
    if (inner) Object.assign(found, allStates(inner));
  }
  return found;
}

describe("the batch state machine", () => {
  it("is a STANDARD workflow with tracing and logging on", () => {
    synth.template.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      StateMachineType: "STANDARD",
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: "ALL" }),
    });
  });

  it("runs Ingest, Digest and Commit as Lambda tasks inside a Map over the jobs, then finalizes", () => {
    const definition = stateMachineDefinition(synth.template);
    const map = definition.States[definition.StartAt];
    expect(map).toMatchObject({
      Type: "Map",
      ItemsPath: "$.jobs",
      MaxConcurrencyPath: "$.concurrency",
      Next: "Finalize batch",
    });
    const inner = map.ItemProcessor.States;
    for (const phase of ["Ingest", "Digest", "Commit"]) {
      expect(inner[phase]).toMatchObject({
        Type: "Task",
        Resource: expect.stringContaining("lambda:invoke"),
      });
      expect(inner[phase].Parameters.Payload).toMatchObject({ phase, isFinal: phase === "Commit" });
    }
    expect(map.ItemProcessor.StartAt).toBe("Ingest");
  });

  it("chains the phases one state each, and catches JobCancelled into a Job cancelled state", () => {
    // Prepare
    const states = allStates(stateMachineDefinition(synth.template).States);

    // Assess: a job that runs to its end passes only through its phases.
    expect(states.Ingest.Next).toBe("Digest");
    expect(states.Digest.Next).toBe("Commit");
    expect(states.Commit.End).toBe(true);
    expect(Object.values(states).some((state: any) => state.Type === "Choice")).toBe(false);
    for (const phase of ["Ingest", "Digest", "Commit"]) {
      expect(states[phase].Catch[0]).toEqual({
        ErrorEquals: ["JobCancelled"],
        ResultPath: null,
        Next: "Job cancelled",
      });
      expect(states[phase].Retry[0].ErrorEquals).toContain("JobCancelled");
    }
    expect(states["Job cancelled"].Type).toBe("Succeed");
  });

  it("never retries a job whose input no longer fits, retries other errors with backoff, and catches into a job failure", () => {
    const states = allStates(stateMachineDefinition(synth.template).States);
    for (const phase of ["Ingest", "Digest", "Commit"]) {
      const [noRetry, retry] = states[phase].Retry;
      expect(noRetry).toEqual({
        ErrorEquals: expect.arrayContaining(["PhaseInputInvalid"]),
        MaxAttempts: 0,
      });
      expect(retry).toMatchObject({ ErrorEquals: ["States.ALL"], MaxAttempts: 2, BackoffRate: 2 });
      expect(states[phase].Catch.at(-1)).toEqual({
        ErrorEquals: ["States.ALL"],
        ResultPath: "$.failure",
        Next: "Record job failure",
      });
    }
    // A failed job must not fail the inline Map (and with it the batch).
    expect(states["Job failed"].Type).toBe("Succeed");
  });

  it("takes its phases, their timeouts, retries and environment from the pipeline", async () => {
    const custom = synthStack({ config: "test/fixtures/scrape-pipeline.ts" });
    const states = allStates(stateMachineDefinition(custom.template).States);
    expect(states.Scrape.Parameters.Payload).toMatchObject({ phase: "Scrape", isFinal: false });
    expect(states.Scrape.TimeoutSeconds).toBe(90);
    expect(states.Scrape.Retry[1]).toMatchObject({ MaxAttempts: 5 });
    expect(states.Publish.Parameters.Payload).toMatchObject({ phase: "Publish", isFinal: true });
    expect(states.Ingest).toBeUndefined();
    custom.template.hasResourceProperties("AWS::Lambda::Function", {
      Description: "stepbatch scrape pipeline: phase Scrape",
      Timeout: 60,
      Environment: { Variables: Match.objectLike({ SITE: "https://example.com" }) },
    });
  });
});

describe("permissions", () => {
  const policiesOf = (functionIdFragment: string) => {
    const policies = synth.template.findResources("AWS::IAM::Policy");
    return Object.entries(policies)
      .filter(([id]) => id.includes(functionIdFragment))
      .flatMap(([, policy]) => (policy as any).Properties.PolicyDocument.Statement as any[]);
  };
  const actionsOf = (statement: any): string[] => [statement.Action].flat();

  it("lets only the cancel Lambda call states:StopExecution, on this state machine's executions only", () => {
    // Prepare
    const all = Object.entries(synth.template.findResources("AWS::IAM::Policy")).flatMap(
      ([id, p]) =>
        ((p as any).Properties.PolicyDocument.Statement as any[]).map((s) => ({ id, s })),
    );
    // Act
    const stoppers = all.filter(({ s }) => actionsOf(s).includes("states:StopExecution"));
    // Assess
    expect(stoppers.map(({ id }) => id)).toEqual([expect.stringMatching(/^ApiCancelBatch/)]);
    const resource = JSON.stringify(stoppers[0]?.s.Resource);
    expect(resource).toContain(":execution:");
    expect(resource).toContain("WorkflowStateMachine");
    expect(resource).not.toBe('"*"');
  });

  it("lets only the submit paths start executions: POST /batches, resume, the scheduled submit and the sweep", () => {
    const starters = Object.entries(synth.template.findResources("AWS::IAM::Policy")).filter(
      ([, p]) =>
        ((p as any).Properties.PolicyDocument.Statement as any[]).some((s) =>
          actionsOf(s).includes("states:StartExecution"),
        ),
    );
    expect(starters.map(([id]) => id).sort()).toEqual([
      expect.stringMatching(/^ApiResumeBatch/),
      expect.stringMatching(/^ApiSubmitBatch/),
      expect.stringMatching(/^ReconcilerSweep/),
      expect.stringMatching(/^SchedulesScheduledSubmit/),
    ]);
  });

  it("gives read-only routes no write access to the table", () => {
    const writes = policiesOf("ApiGetBatch")
      .flatMap(actionsOf)
      .filter((a) => a.startsWith("dynamodb:") && /Put|Update|Delete|Write/.test(a));
    expect(policiesOf("ApiGetBatch").flatMap(actionsOf)).toContain("dynamodb:Query");
    expect(writes).toEqual([]);
  });

  it("uses no AWS managed policy on any Lambda role", () => {
    const roles = synth.template.findResources("AWS::IAM::Role", {
      Properties: {
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { Service: "lambda.amazonaws.com" } })],
        }),
      },
    });
    for (const role of Object.values(roles))
      expect((role as any).Properties.ManagedPolicyArns).toBeUndefined();
  });
});

describe("storage and API", () => {
  it("keeps state in an on-demand table with point-in-time recovery and TTL", () => {
    synth.template.hasResourceProperties("AWS::DynamoDB::Table", {
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
    });
  });

  it("keeps results in a private, encrypted, TLS-only bucket whose temporary results expire", () => {
    synth.template.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: Match.anyValue(),
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: "results/", ExpirationInDays: 30, Status: "Enabled" }),
        ]),
      },
    });
    synth.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });

  it("serves every route of the contract behind the token authorizer", () => {
    const methods = synth.template.findResources("AWS::ApiGateway::Method");
    const routed = Object.values(methods).filter((m: any) => m.Properties.HttpMethod !== "OPTIONS");
    expect(routed).toHaveLength(12);
    for (const method of routed as any[])
      expect(method.Properties.AuthorizationType).toBe("CUSTOM");
    expect(routed.map((m: any) => m.Properties.OperationName).sort()).toEqual([
      "cancelBatch",
      "cancelJob",
      "consolidate",
      "deleteJob",
      "getBatch",
      "getCancellation",
      "getJob",
      "getJobOutput",
      "getResults",
      "listBatches",
      "resumeBatch",
      "submitBatch",
    ]);
  });

  it("outputs the API URL, state machine, table and bucket", () => {
    for (const output of [
      "ApiUrl",
      "StateMachineArn",
      "TableName",
      "BucketName",
      "TokenSecretArn",
    ]) {
      expect(synth.template.findOutputs(output)).not.toEqual({});
    }
  });

  it("runs every Lambda on nodejs24.x with tracing and a log group that has a retention", () => {
    const functions = Object.values(synth.template.findResources("AWS::Lambda::Function")) as any[];
    expect(functions.length).toBeGreaterThanOrEqual(15);
    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe("nodejs24.x");
      expect(fn.Properties.TracingConfig).toEqual({ Mode: "Active" });
    }
    for (const group of Object.values(
      synth.template.findResources("AWS::Logs::LogGroup"),
    ) as any[]) {
      expect(group.Properties.RetentionInDays).toBeGreaterThan(0);
    }
  });
});

describe("cdk-nag", () => {
  it("passes the AwsSolutions checks, and every acknowledgement carries a reason", () => {
    // Act
    const report = new AwsSolutionsChecks(synth.app).validateScope(synth.app);
    // Assess
    const findings = report.violations.flatMap((v) =>
      v.violatingResources.map((r) => `${v.ruleName} ${r.resourceLogicalId}`),
    );
    expect(findings).toEqual([]);
    // Acknowledgements are stored as {"<pack>::<finding id>": "<reason>"}.
    const acknowledged = synth.stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === "aws:cdk:acknowledged-rules"))
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    expect(acknowledged.filter(([id]) => id.includes("AwsSolutions")).length).toBeGreaterThan(10);
    for (const [id, reason] of acknowledged)
      expect(reason.length, `reason for ${id}`).toBeGreaterThanOrEqual(30);
  });
});
