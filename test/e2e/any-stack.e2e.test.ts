import { type ChildProcess, spawn } from "node:child_process";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamoClient } from "../../local/emulators.ts";
import { type LocalStack, PROJECT_ROOT } from "../../local/stack.ts";
import { waitFor } from "../helpers/wait.ts";

// The local stack runs any stack, found by what its resources are: here one with none of
// stepbatch's constructs or names (test/helpers/orders-stack.ts), in a process of its own as a
// user's project runs it (test/fixtures/orders/serve.ts). So this suite always runs the local stack.
type Running = Pick<LocalStack, "apiUrl" | "endpoints" | "stateMachineArn">;
let stack: Running;
let child: ChildProcess;
let exited: Promise<unknown>;
beforeAll(async () => {
  child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/orders/serve.ts"], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: unknown) => {
    output += String(chunk);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  exited = new Promise((resolve) => child.on("exit", resolve));
  stack = await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the orders stack exited early:\n${output}`);
      const line = output.split("\n").find((l) => l.startsWith("{"));
      return line ? (JSON.parse(line) as Running) : undefined;
    },
    "the orders stack to start",
    60_000,
  );
}, 60_000);
afterAll(async () => {
  child?.kill("SIGTERM");
  await exited;
});

const order = (orderId: number, path = "/prod/orders") =>
  fetch(`${stack.apiUrl}${path}`, { method: "POST", body: JSON.stringify({ orderId }) });

describe("a stack that is not stepbatch's, on the local stack", () => {
  it("serves its API from its bundle, which writes to its own table and reads its own secret", async () => {
    // Act
    const answer = await order(7);
    const body = (await answer.json()) as { table: string; greeting: string };
    // Assess
    expect(answer.status).toBe(201);
    expect(body.greeting).toBe("hello");
    expect(body.table).toMatch(/^orderstable[0-9a-f]{8}$/);
    const stored = await dynamoClient(stack.endpoints.dynamodb).send(
      new GetItemCommand({ TableName: body.table, Key: { orderId: { N: "7" } } }),
    );
    expect(stored.Item).toEqual({ orderId: { N: "7" } });
  });

  it("serves the API at its stage and at the root", async () => {
    // Act
    const answers = await Promise.all([order(8, "/prod/orders"), order(9, "/orders")]);
    // Assess
    expect(answers.map((a) => a.status)).toEqual([201, 201]);
  });

  it("runs its state machine, whose task invokes the function", async () => {
    // Prepare
    const sfnClient = new SFNClient({ endpoint: stack.endpoints.stepfunctions });
    // Act
    const { executionArn } = await sfnClient.send(
      new StartExecutionCommand({
        stateMachineArn: stack.stateMachineArn,
        input: JSON.stringify({ orderId: 10 }),
      }),
    );
    const ended = await waitFor(async () => {
      const described = await sfnClient.send(new DescribeExecutionCommand({ executionArn }));
      return described.status === "RUNNING" ? undefined : described;
    }, "the execution to end");
    // Assess
    expect(ended.status).toBe("SUCCEEDED");
    expect(JSON.parse(ended.output ?? "{}")).toMatchObject({ statusCode: 201 });
  });

  it("shows stack traces at the function's sources, not at its minified bundle", async () => {
    // Act
    const body = (await (await order(11)).json()) as { stack: string };
    // Assess
    expect(body.stack.split("\n")[1]).toMatch(/test\/fixtures\/orders\/handler\.ts:\d+:\d+/);
  });
});
