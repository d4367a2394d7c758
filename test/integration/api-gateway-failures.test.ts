import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiGateway } from "../../local/api-gateway.ts";
import { LocalLambdaRuntime } from "../../local/lambda-runtime.ts";
import { PROJECT_ROOT } from "../../local/stack.ts";
import type { LocalFunction } from "../../local/template.ts";

const fn = (name: string, entry: string, timeoutSeconds = 5): LocalFunction => ({
  logicalId: name,
  name,
  arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
  code: { file: join(PROJECT_ROOT, entry), exportPath: ["handler"] },
  timeoutSeconds,
  memoryMb: 128,
  environment: {},
});
const misbehaving = fn("Misbehaving", "test/helpers/misbehaving-handler.ts", 0.3);
const unloadable = fn("Unloadable", "test/helpers/no-such-handler-module.ts");
const TOKEN = "secret-token-that-must-not-be-logged";

let gateway: Awaited<ReturnType<typeof startApiGateway>>;
const runtime = new LocalLambdaRuntime(new Map([misbehaving, unloadable].map((f) => [f.arn, f])));
const logged: string[] = [];
beforeAll(async () => {
  gateway = await startApiGateway({
    routes: [
      ...["/throws", "/hangs", "/malformed", "/fine"].map((path) => ({
        method: "GET",
        path,
        functionArn: misbehaving.arn,
      })),
      { method: "GET", path: "/unloadable", functionArn: unloadable.arn },
      {
        method: "GET",
        path: "/guarded",
        functionArn: misbehaving.arn,
        authorizerFunctionArn: misbehaving.arn,
      },
    ],
    runtime,
    port: 0,
    logError: (line) => logged.push(line),
  });
});
afterAll(async () => {
  await gateway?.close();
  await runtime.close();
});

const get = async (path: string) => {
  const response = await fetch(`${gateway.endpoint}${path}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return { status: response.status, body: (await response.json()) as any };
};

describe("the local API gateway when an invocation fails at the Lambda level", () => {
  it.each([
    ["throws past middy", "/throws", "Error: boom past middy"],
    ["times out", "/hangs", "Sandbox.Timedout"],
    ["cannot be loaded", "/unloadable", "Cannot find module"],
    ["answers something that is not a proxy result", "/malformed", "Error"],
    ["has an authorizer that fails", "/guarded", "the authorizer cannot read its secret"],
  ])(
    "answers 500 naming the request, and logs one line with its id, when the handler %s",
    async (_, path, cause) => {
      // Prepare
      const before = logged.length;
      // Act
      const answer = await get(path);
      // Assess
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual({
        error: {
          code: "INTERNAL",
          message: expect.stringMatching(/^internal error \(request [0-9a-f-]{36}\)$/),
        },
      });
      const requestId = /request ([0-9a-f-]{36})/.exec(answer.body.error.message)?.[1] as string;
      const lines = logged.slice(before);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(requestId);
      expect(lines[0]).toContain(cause);
      expect(lines[0]).not.toContain(TOKEN);
      expect(lines[0]).not.toMatch(/\n/);
    },
  );

  it("keeps serving other requests after invocations failed", async () => {
    // Act
    await get("/throws");
    const answer = await get("/fine");
    // Assess
    expect(answer).toEqual({ status: 200, body: { ok: true } });
  });
});

describe("the local API gateway given a request that is not valid HTTP", () => {
  it("answers raw non-ASCII bytes in the request line with a 400 in the API's error shape", async () => {
    // Prepare: what fetch would refuse to send, written to the socket as bytes.
    const { port } = new URL(gateway.endpoint);
    // Act
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () => {
        socket.write(Buffer.from("GET /batches/\xe9\xff HTTP/1.1\r\nHost: x\r\n\r\n", "latin1"));
      });
      let text = "";
      socket.on("data", (chunk) => {
        text += String(chunk);
      });
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    // Assess
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toEqual({
      error: { code: "BAD_REQUEST", message: "the request is not valid HTTP" },
    });
    expect((await get("/fine")).status).toBe(200);
  });
});
