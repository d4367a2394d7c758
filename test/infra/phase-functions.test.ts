import { Duration, Stack } from "aws-cdk-lib";
import { Match, type Template } from "aws-cdk-lib/assertions";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { AwsSolutionsChecks } from "cdk-nag";
import type { Construct } from "constructs";
import { describe, expect, it } from "vitest";
import { generateEntry, loadPipeline } from "../../infra/pipeline.ts";
import { stateMachineDefinition, synthStack } from "../helpers/synth.ts";

// What a user's app already has, imported by ARN or id: a layer, a VPC, a table of their own.
const imports = new Stack();
const LAYER_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:shared-libs:3";
const LEDGER_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/ledger";
const ledger = dynamodb.Table.fromTableArn(imports, "Ledger", LEDGER_ARN);
const vpc = ec2.Vpc.fromVpcAttributes(imports, "Vpc", {
  vpcId: "vpc-0a1b2c3d",
  availabilityZones: ["us-east-1a", "us-east-1b"],
  privateSubnetIds: ["subnet-0aaa1111", "subnet-0bbb2222"],
});

const TUNED = "test/fixtures/tuned-pipeline.ts";

/** The Lambda function resource stepbatch built for a phase of the demo pipeline. */
function phaseFunction(template: Template, phase: string): [string, any] {
  const found = template.findResources("AWS::Lambda::Function", {
    Properties: { Description: `stepbatch demo pipeline: phase ${phase}` },
  });
  const entries = Object.entries(found);
  expect(entries, `the function of phase ${phase}`).toHaveLength(1);
  return entries[0] as [string, any];
}

/** Every statement of every policy attached to a role, by the role's logical id. */
function statementsOf(template: Template, roleId: string): any[] {
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy: any) => policy.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((policy: any) => policy.Properties.PolicyDocument.Statement);
}

const roleOf = (fn: any): string => fn.Properties.Role["Fn::GetAtt"][0];
const actionsOf = (statement: any): string[] => [statement.Action].flat();

/** A function of the user's, as small as can be: what it runs does not matter to the template. */
const inlineFunction = (scope: Construct) =>
  new lambda.Function(scope, "Own", {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: "index.handler",
    code: lambda.Code.fromInline("export const handler = async () => ({});"),
  });

function nagFindings(synth: ReturnType<typeof synthStack>): string[] {
  const report = new AwsSolutionsChecks(synth.app).validateScope(synth.app);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath ?? r.resourceLogicalId}`),
  );
}

describe("options for a phase's function", () => {
  it("adds a layer to the Commit phase's function only", () => {
    // Prepare
    const layer = lambda.LayerVersion.fromLayerVersionArn(imports, "SharedLibs", LAYER_ARN);
    // Act
    const synth = synthStack({
      phaseFunctions: { Commit: { functionProps: { layers: [layer] } } },
    });
    // Assess
    expect(phaseFunction(synth.template, "Commit")[1].Properties.Layers).toEqual([LAYER_ARN]);
    expect(phaseFunction(synth.template, "Ingest")[1].Properties.Layers).toBeUndefined();
    expect(nagFindings(synth)).toEqual([]);
  });

  it("puts a phase's function in a VPC, and lets its role manage the function's network interfaces", () => {
    // Act
    const synth = synthStack({
      phaseFunctions: {
        Ingest: {
          functionProps: { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } },
        },
      },
    });
    // Assess
    const [, fn] = phaseFunction(synth.template, "Ingest");
    expect(fn.Properties.VpcConfig).toEqual({
      SubnetIds: ["subnet-0aaa1111", "subnet-0bbb2222"],
      SecurityGroupIds: [{ "Fn::GetAtt": [expect.stringMatching(/SecurityGroup/), "GroupId"] }],
    });
    const eni = statementsOf(synth.template, roleOf(fn)).filter((s) =>
      actionsOf(s).includes("ec2:CreateNetworkInterface"),
    );
    expect(eni).toHaveLength(1);
    const [, other] = phaseFunction(synth.template, "Digest");
    expect(
      statementsOf(synth.template, roleOf(other))
        .flatMap(actionsOf)
        .filter((a) => a.startsWith("ec2:")),
    ).toEqual([]);
    expect(nagFindings(synth)).toEqual([]);
  });

  it("merges the function props over stepbatch's defaults: architecture, memory and environment", () => {
    // Act
    const synth = synthStack({
      phaseFunctions: {
        Digest: {
          functionProps: {
            architecture: lambda.Architecture.X86_64,
            memorySize: 2048,
            timeout: Duration.minutes(10),
            environment: { MODEL: "small", POWERTOOLS_SERVICE_NAME: "digest" },
          },
        },
      },
    });
    // Assess
    const [, fn] = phaseFunction(synth.template, "Digest");
    expect(fn.Properties).toMatchObject({
      Architectures: ["x86_64"],
      MemorySize: 2048,
      Timeout: 600,
      Runtime: "nodejs24.x",
      Handler: "index.handler",
    });
    expect(fn.Properties.Environment.Variables).toMatchObject({
      MODEL: "small",
      POWERTOOLS_SERVICE_NAME: "digest",
      TABLE_NAME: { Ref: expect.stringMatching(/^StorageTable/) },
    });
    // The task waits for the function's own timeout, plus 30 s.
    const inner = Object.values(stateMachineDefinition(synth.template).States)[0].ItemProcessor
      .States;
    expect(inner.Digest.TimeoutSeconds).toBe(630);
  });

  it("adds policy statements to the Commit phase's role only, in a policy of their own", () => {
    // Prepare
    const append = new iam.PolicyStatement({
      actions: ["dynamodb:PutItem"],
      resources: [LEDGER_ARN],
    });
    // Act
    const synth = synthStack({ phaseFunctions: { Commit: { policyStatements: [append] } } });
    // Assess
    const holding = Object.values(synth.template.findResources("AWS::IAM::Policy")).filter(
      (policy: any) =>
        policy.Properties.PolicyDocument.Statement.some((s: any) => s.Resource === LEDGER_ARN),
    ) as any[];
    expect(holding).toHaveLength(1);
    const [, commit] = phaseFunction(synth.template, "Commit");
    expect(holding[0].Properties.Roles).toEqual([{ Ref: roleOf(commit) }]);
    expect(holding[0].Properties.PolicyDocument.Statement).toEqual([
      { Effect: "Allow", Action: "dynamodb:PutItem", Resource: LEDGER_ARN },
    ]);
    expect(nagFindings(synth)).toEqual([]);
  });

  it("reports a wildcard in a statement you give: stepbatch acknowledges none of yours", () => {
    // Prepare
    const broad = new iam.PolicyStatement({ actions: ["dynamodb:PutItem"], resources: ["*"] });
    // Act
    const synth = synthStack({ phaseFunctions: { Commit: { policyStatements: [broad] } } });
    // Assess
    expect(nagFindings(synth)).toEqual([
      "AwsSolutions-IAM5[Resource::*] StepbatchTest/Default/Workflow/CommitPhasePolicy/Resource",
    ]);
  });

  it("calls the grant callback with the Commit phase's function, so that it may write the user's table", () => {
    // Prepare
    const received: lambda.Function[] = [];
    // Act
    const synth = synthStack({
      phaseFunctions: {
        Commit: {
          grant: (fn) => {
            received.push(fn);
            ledger.grantWriteData(fn);
          },
        },
      },
    });
    // Assess
    expect(received).toEqual([synth.stack.workflow.phaseFunctions[2]?.function]);
    const [, commit] = phaseFunction(synth.template, "Commit");
    const onLedger = statementsOf(synth.template, roleOf(commit)).filter((s) =>
      [s.Resource].flat().includes(LEDGER_ARN),
    );
    expect(onLedger.flatMap(actionsOf)).toEqual(expect.arrayContaining(["dynamodb:PutItem"]));
    const [, ingest] = phaseFunction(synth.template, "Ingest");
    expect(JSON.stringify(statementsOf(synth.template, roleOf(ingest)))).not.toContain(LEDGER_ARN);
    expect(nagFindings(synth)).toEqual([]);
  });
});

describe("a phase run by a function of your own", () => {
  const ownCommit = (scope: Construct) =>
    new NodejsFunction(scope, "Own", {
      entry: generateEntry(loadPipeline("stepbatch.config.ts"), "phase", "Commit"),
      runtime: lambda.Runtime.NODEJS_24_X,
      description: "my commit",
      memorySize: 2048,
      timeout: Duration.minutes(10),
      bundling: {
        format: OutputFormat.ESM,
        banner:
          "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
      },
    });

  it("is invoked by the state machine, with stepbatch's environment and the grants a phase needs", () => {
    // Act
    const synth = synthStack({ phaseFunctions: { Commit: { existingFunction: ownCommit } } });
    // Assess: stepbatch built no Commit function of its own.
    expect(
      synth.template.findResources("AWS::Lambda::Function", {
        Properties: { Description: Match.stringLikeRegexp("phase Commit") },
      }),
    ).toEqual({});
    const [ownId, own] = Object.entries(
      synth.template.findResources("AWS::Lambda::Function", {
        Properties: { Description: "my commit" },
      }),
    )[0] as [string, any];
    expect(own.Properties.Environment.Variables).toMatchObject({
      TABLE_NAME: { Ref: expect.stringMatching(/^StorageTable/) },
      BUCKET_NAME: { Ref: expect.stringMatching(/^StorageResults/) },
      CANCEL_POLL_MS: "1000",
      SUMMARY_FIELDS: expect.stringContaining("pagesProcessed"),
    });
    const machine = Object.values(
      synth.template.findResources("AWS::StepFunctions::StateMachine"),
    )[0] as any;
    expect(JSON.stringify(machine.Properties.DefinitionString)).toContain(
      JSON.stringify({ "Fn::GetAtt": [ownId, "Arn"] }),
    );
    const inner = Object.values(stateMachineDefinition(synth.template).States)[0].ItemProcessor
      .States;
    expect(inner.Commit.TimeoutSeconds).toBe(630);
    const granted = statementsOf(synth.template, roleOf(own)).flatMap(actionsOf);
    expect(granted).toEqual(
      expect.arrayContaining(["dynamodb:UpdateItem", "s3:GetObject", "s3:PutObject"]),
    );
    expect(synth.stack.workflow.phaseFunctions[2]?.function.node.path).toMatch(/CommitPhase\/Own$/);
  });

  it("adds no cdk-nag finding of stepbatch's: what remains is the user's function's own", () => {
    // Act
    const synth = synthStack({ phaseFunctions: { Commit: { existingFunction: ownCommit } } });
    // Assess: the role Lambda created for it has the AWS managed basic execution policy.
    expect(nagFindings(synth)).toEqual([
      expect.stringMatching(
        /^AwsSolutions-IAM4\[Policy::.*AWSLambdaBasicExecutionRole\] StepbatchTest\/Default\/Workflow\/CommitPhase\/Own\/ServiceRole\//,
      ),
    ]);
  });

  it("must be in the workflow's stack, since each refers to the other", () => {
    // Prepare
    const elsewhere = inlineFunction(new Stack(undefined, "Elsewhere"));
    // Act, Assess
    expect(() =>
      synthStack({ phaseFunctions: { Commit: { existingFunction: elsewhere } } }),
    ).toThrow(
      /phase 'Commit': existingFunction Elsewhere\/Own is in stack Elsewhere, not in StepbatchTest/,
    );
  });
});

describe("conflicting settings fail at synth, naming the phase", () => {
  it("refuses options for a phase the pipeline does not have, and lists its phases", () => {
    expect(() => synthStack({ phaseFunctions: { Comit: { policyStatements: [] } } })).toThrow(
      "phaseFunctions names phase 'Comit', which pipeline demo does not have (its phases: Ingest, Digest, Commit)",
    );
  });

  it("refuses an existing function together with function props", () => {
    const existingFunction = inlineFunction;
    expect(() =>
      synthStack({
        phaseFunctions: { Commit: { existingFunction, functionProps: { memorySize: 1024 } } },
      }),
    ).toThrow("phase 'Commit': existingFunction and functionProps cannot both be set");
  });

  it("refuses an existing function for a phase whose memory, timeout and environment the pipeline sets", () => {
    const existingFunction = inlineFunction;
    expect(() =>
      synthStack({ config: TUNED, phaseFunctions: { Fetch: { existingFunction } } }),
    ).toThrow(
      "phase 'Fetch' runs your existingFunction, but the pipeline sets its memoryMb, timeoutSeconds, environment",
    );
  });

  it("refuses a memory size or a timeout that disagrees with the pipeline's", () => {
    expect(() =>
      synthStack({
        config: TUNED,
        phaseFunctions: {
          Fetch: { functionProps: { memorySize: 2048, timeout: Duration.minutes(5) } },
        },
      }),
    ).toThrow(
      /functionProps.memorySize \(2048\) disagrees with the pipeline's memoryMb \(1024\)[\s\S]*functionProps.timeout \(5 minutes\) disagrees with the pipeline's timeoutSeconds \(120\)/,
    );
  });

  it("accepts a memory size and a timeout that agree with the pipeline's", () => {
    const synth = synthStack({
      config: TUNED,
      phaseFunctions: {
        Fetch: { functionProps: { memorySize: 1024, timeout: Duration.minutes(2) } },
      },
    });
    synth.template.hasResourceProperties("AWS::Lambda::Function", {
      Description: "stepbatch tuned pipeline: phase Fetch",
      MemorySize: 1024,
      Timeout: 120,
    });
  });

  it("refuses environment variables that stepbatch sets, or that the pipeline sets otherwise", () => {
    expect(() =>
      synthStack({
        config: TUNED,
        phaseFunctions: {
          Fetch: {
            functionProps: {
              environment: { TABLE_NAME: "mine", SOURCE_URL: "https://example.org", EXTRA: "1" },
            },
          },
        },
      }),
    ).toThrow(
      /phase 'Fetch': functionProps.environment sets TABLE_NAME, which stepbatch sets itself\n- phase 'Fetch': functionProps.environment sets SOURCE_URL to other values than the pipeline's environment/,
    );
  });

  it("refuses the props that stay stepbatch's: role, runtime, handler, entry, bundle format and banner", () => {
    const role = new iam.Role(imports, "Mine", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
    });
    expect(() =>
      synthStack({
        phaseFunctions: {
          Digest: {
            functionProps: {
              role,
              runtime: lambda.Runtime.NODEJS_22_X,
              handler: "main",
              entry: "src/digest.ts",
              bundling: { format: OutputFormat.CJS, banner: "", minify: false },
            },
          },
        },
      }),
    ).toThrow(
      "phase 'Digest': functionProps.role, functionProps.runtime, functionProps.handler, functionProps.entry, functionProps.bundling.format, functionProps.bundling.banner stay stepbatch's",
    );
  });
});
