import { App } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { StepbatchStack } from "../../../infra/stepbatch-stack.ts";
import { AccessDenied, LocalIam } from "../../../local/iam.ts";
import {
  dynamodbAuthorizations,
  type GatedRequest,
  s3Authorizations,
  withS3rverKey,
} from "../../../local/iam-gate.ts";
import { readAppModel } from "../../../local/template.ts";

const TABLE = "arn:aws:dynamodb:us-east-1:000000000000:table/state";
const role = {
  logicalId: "ReaderRole",
  name: "ReaderRole",
  arn: "arn:aws:iam::000000000000:role/ReaderRole",
  awsManagedPolicies: [],
  policies: [
    {
      name: "Reads",
      document: {
        Version: "2012-10-17",
        Statement: [
          { Effect: "Allow", Action: ["dynamodb:GetItem", "dynamodb:Query"], Resource: TABLE },
          { Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::results/*" },
          { Effect: "Deny", Action: "s3:GetObject", Resource: "arn:aws:s3:::results/private/*" },
        ],
      },
    },
  ],
};
const reader = { role, session: "ReaderFunction" };

const request = (
  method: string,
  url: string,
  headers: GatedRequest["headers"] = {},
  body = "",
): GatedRequest => ({ method, url, headers, body: Buffer.from(body) });
const signedBy = (accessKeyId: string) => ({
  authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20261123/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc`,
});

describe("IAM on the local stack", () => {
  it("allows what the role's policies allow", async () => {
    // Prepare
    const iam = new LocalIam();
    // Act
    const allowed = iam.authorize(reader, [
      { action: "dynamodb:Query", resource: TABLE },
      { action: "s3:GetObject", resource: "arn:aws:s3:::results/b-1/out.json" },
    ]);
    // Assess
    await expect(allowed).resolves.toBeUndefined();
  });

  it("refuses anything else with AccessDenied worded as AWS words it, naming the action and the resource", async () => {
    // Prepare
    const iam = new LocalIam();
    // Act
    const refused = await iam
      .authorize(reader, [{ action: "dynamodb:PutItem", resource: TABLE }])
      .catch((error: unknown) => error);
    // Assess
    expect(refused).toBeInstanceOf(AccessDenied);
    expect((refused as AccessDenied).message).toBe(
      `User: arn:aws:sts::000000000000:assumed-role/ReaderRole/ReaderFunction is not authorized to perform: dynamodb:PutItem on resource: ${TABLE} because no identity-based policy allows the dynamodb:PutItem action`,
    );
  });

  it("says so when an explicit deny refuses the call", async () => {
    // Prepare
    const iam = new LocalIam();
    // Act
    const refused = iam.authorize(reader, [
      { action: "s3:GetObject", resource: "arn:aws:s3:::results/private/key" },
    ]);
    // Assess
    await expect(refused).rejects.toThrow(/because an explicit deny in an identity-based policy/);
  });

  it("knows a function by the access key it signs with, in a header or a presigned URL, and no one else", () => {
    // Prepare
    const iam = new LocalIam();
    const { accessKeyId } = iam.credentialsOf(reader);
    // Act
    const byHeader = iam.principalOf(signedBy(accessKeyId));
    const byUrl = iam.principalOf(
      {},
      `/results/k?X-Amz-Credential=${accessKeyId}%2F20261123%2Fus-east-1%2Fs3%2Faws4_request`,
    );
    const stranger = iam.principalOf(signedBy("S3RVER"));
    // Assess
    expect(accessKeyId).toMatch(/^ASIA[0-9A-F]{16}$/);
    expect(byHeader).toBe(reader);
    expect(byUrl).toBe(reader);
    expect(stranger).toBeUndefined();
  });

  it("checks nothing when enforcement is off, and nothing for this machine's own calls", async () => {
    // Act / Assess
    await expect(
      new LocalIam(false).authorize(reader, [{ action: "dynamodb:PutItem", resource: TABLE }]),
    ).resolves.toBeUndefined();
    await expect(
      new LocalIam().authorize(undefined, [{ action: "dynamodb:PutItem", resource: TABLE }]),
    ).resolves.toBeUndefined();
  });
});

describe("what a DynamoDB request needs", () => {
  const dynamo = (operation: string, input: unknown) =>
    dynamodbAuthorizations(
      request(
        "POST",
        "/",
        { "x-amz-target": `DynamoDB_20120810.${operation}` },
        JSON.stringify(input),
      ),
    );

  it("is its operation on the table it names, or on the index it queries", () => {
    // Act / Assess
    expect(dynamo("GetItem", { TableName: "state" })).toEqual([
      { action: "dynamodb:GetItem", resource: TABLE },
    ]);
    expect(dynamo("Query", { TableName: "state", IndexName: "byCreated" })).toEqual([
      { action: "dynamodb:Query", resource: `${TABLE}/index/byCreated` },
    ]);
  });

  it("is its operation on the resource it names by ARN, or on no resource, never nothing", () => {
    // Act / Assess
    expect(dynamo("TagResource", { ResourceArn: TABLE })).toEqual([
      { action: "dynamodb:TagResource", resource: TABLE },
    ]);
    expect(dynamo("DescribeLimits", {})).toEqual([
      { action: "dynamodb:DescribeLimits", resource: "*" },
    ]);
    expect(dynamo("ExecuteStatement", { Statement: 'SELECT * FROM "state"' })).toEqual([
      { action: "dynamodb:PartiQLSelect", resource: "*" },
    ]);
    expect(
      dynamo("BatchExecuteStatement", {
        Statements: [{ Statement: 'insert into "state" value {}' }],
      }),
    ).toEqual([{ action: "dynamodb:PartiQLInsert", resource: "*" }]);
  });

  it("is its operation on every table of a batch, and each item's own action in a transaction", () => {
    // Act / Assess
    expect(dynamo("BatchWriteItem", { RequestItems: { state: [], other: [] } })).toEqual([
      { action: "dynamodb:BatchWriteItem", resource: TABLE },
      { action: "dynamodb:BatchWriteItem", resource: TABLE.replace("state", "other") },
    ]);
    expect(
      dynamo("TransactWriteItems", {
        TransactItems: [
          { Put: { TableName: "state" } },
          { ConditionCheck: { TableName: "state" } },
        ],
      }),
    ).toEqual([
      { action: "dynamodb:PutItem", resource: TABLE },
      { action: "dynamodb:ConditionCheckItem", resource: TABLE },
    ]);
  });
});

describe("what an S3 request needs", () => {
  it("is GetObject, PutObject or DeleteObject on the object, and ListBucket on the bucket", () => {
    // Act / Assess
    expect(s3Authorizations(request("GET", "/results/b-1/job%201/out.json"))).toEqual([
      { action: "s3:GetObject", resource: "arn:aws:s3:::results/b-1/job 1/out.json" },
    ]);
    expect(s3Authorizations(request("HEAD", "/results/k"))).toEqual([
      { action: "s3:GetObject", resource: "arn:aws:s3:::results/k" },
    ]);
    expect(s3Authorizations(request("PUT", "/results/k"))).toEqual([
      { action: "s3:PutObject", resource: "arn:aws:s3:::results/k" },
    ]);
    expect(s3Authorizations(request("DELETE", "/results/k"))).toEqual([
      { action: "s3:DeleteObject", resource: "arn:aws:s3:::results/k" },
    ]);
    expect(s3Authorizations(request("GET", "/results?list-type=2&prefix=b-1/"))).toEqual([
      { action: "s3:ListBucket", resource: "arn:aws:s3:::results" },
    ]);
  });

  it("is GetObject on the source too for a copy, and DeleteObject on each key of a multi-delete", () => {
    // Act / Assess
    expect(
      s3Authorizations(request("PUT", "/archive/k", { "x-amz-copy-source": "/results/b-1/k" })),
    ).toEqual([
      { action: "s3:PutObject", resource: "arn:aws:s3:::archive/k" },
      { action: "s3:GetObject", resource: "arn:aws:s3:::results/b-1/k" },
    ]);
    const body =
      "<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object></Delete>";
    expect(s3Authorizations(request("POST", "/results?delete", {}, body))).toEqual([
      { action: "s3:DeleteObject", resource: "arn:aws:s3:::results/a&b" },
      { action: "s3:DeleteObject", resource: "arn:aws:s3:::results/c" },
    ]);
  });

  it("is the setting's own action for a bucket's settings, and the version's for an object's version", () => {
    // Act / Assess
    expect(s3Authorizations(request("PUT", "/results?policy"))).toEqual([
      { action: "s3:PutBucketPolicy", resource: "arn:aws:s3:::results" },
    ]);
    expect(s3Authorizations(request("GET", "/results?tagging"))).toEqual([
      { action: "s3:GetBucketTagging", resource: "arn:aws:s3:::results" },
    ]);
    expect(s3Authorizations(request("GET", "/results/k?versionId=3"))).toEqual([
      { action: "s3:GetObjectVersion", resource: "arn:aws:s3:::results/k" },
    ]);
    expect(s3Authorizations(request("DELETE", "/results/k?versionId=3"))).toEqual([
      { action: "s3:DeleteObjectVersion", resource: "arn:aws:s3:::results/k" },
    ]);
  });

  it("goes on to s3rver signed with its own key, in a header or a presigned URL", () => {
    // Prepare
    const rewrite = withS3rverKey("S3RVER");
    // Act
    const signed = rewrite(request("GET", "/results/k", signedBy("ASIA0123456789ABCDEF")));
    const presigned = rewrite(
      request(
        "GET",
        "/results/k?X-Amz-Credential=ASIA0123456789ABCDEF%2F20261123%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc",
      ),
    );
    // Assess
    expect(signed.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=S3RVER\/20261123\//);
    expect(new URL(presigned.url, "http://local").searchParams.get("X-Amz-Credential")).toBe(
      "S3RVER/20261123/us-east-1/s3/aws4_request",
    );
  });
});

describe("the roles the local stack reads from stepbatch's template", () => {
  it("let the state machine invoke its phases and nothing else, and each function only what it was granted", async () => {
    // Prepare
    // As deployed anywhere (no account of its own), without bundling the code: it is not run here.
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const stack = new StepbatchStack(app, "Stepbatch");
    const model = readAppModel(app.synth().getStackArtifact(stack.artifactId).template);
    const iam = new LocalIam();
    const functions = [...model.functions.values()];
    const named = (prefix: string) => {
      const fn = functions.find((f) => f.logicalId.startsWith(prefix));
      if (!fn?.role) throw new Error(`no function ${prefix} with a role`);
      return { fn, principal: { role: fn.role, session: fn.name } };
    };
    const machine = { role: model.stateMachine.role ?? role, session: "states" };
    const invoke = (fnArn: string) => [{ action: "lambda:InvokeFunction", resource: fnArn }];
    const cancel = named("ApiCancelBatch");
    const getBatch = named("ApiGetBatch");
    const execution = `${model.stateMachine.arn.replace(":stateMachine:", ":execution:")}:b-1`;
    // Act / Assess
    expect(model.stateMachine.role).toBeDefined();
    await expect(
      iam.authorize(machine, invoke(named("WorkflowIngestPhase").fn.arn)),
    ).resolves.toBeUndefined();
    await expect(iam.authorize(machine, invoke(cancel.fn.arn))).rejects.toThrow(AccessDenied);
    await expect(
      iam.authorize(cancel.principal, [{ action: "states:StopExecution", resource: execution }]),
    ).resolves.toBeUndefined();
    await expect(
      iam.authorize(getBatch.principal, [{ action: "states:StopExecution", resource: execution }]),
    ).rejects.toThrow(/not authorized to perform: states:StopExecution/);
  });
});
