import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterEach, describe, expect, it } from "vitest";
import { createMcpServer } from "../../../cli/mcp";
import { StepbatchClient } from "../../../client/stepbatch-client";
import { type FakeApi, startFakeApi } from "../../helpers/fake-api";

// The MCP server over an in-memory transport, its client pointed at a fake API that records
// every request it gets.

let api: FakeApi | undefined;
let mcp: Client | undefined;
afterEach(async () => {
  await mcp?.close();
  await api?.close();
  mcp = undefined;
  api = undefined;
});

async function connect(fake: FakeApi) {
  const client = new StepbatchClient({
    apiUrl: fake.apiUrl,
    token: fake.token,
    timeoutMs: 5000,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await createMcpServer(client).connect(serverSide);
  mcp = new Client({ name: "stepbatch-unit", version: "1.0.0" });
  await mcp.connect(clientSide);
  return mcp;
}

/** Calls a tool and parses the JSON text it answers with. */
async function callTool(name: string, args: Record<string, unknown>) {
  const result = (await mcp?.callTool({ name, arguments: args })) as {
    content: { type: string; text: string }[];
    isError?: boolean;
  };
  return { ...JSON.parse(result.content[0]?.text ?? "{}"), isError: Boolean(result.isError) };
}

describe("cancel_job with a job that cannot be one", () => {
  it.each([
    [{ jobId: ".." }, "job id '..' is not a job id"],
    [{ jobId: "" }, "job id '' is not a job id"],
    [{ jobs: [] }, "jobs names no job; to cancel the whole batch, leave jobs out"],
    [{ jobs: ["A"], jobId: "job-00001" }, "give jobs (a subset) or jobId (one job), not both"],
  ])(
    "refuses %j with success: false and a clear message, sending nothing",
    async (args, message) => {
      // Prepare
      api = await startFakeApi(() => ({ status: 200, body: { message: "Batch b-1 cancelled" } }));
      await connect(api);
      // Act
      const answer = await callTool("cancel_job", { batchId: "b-1", ...args });
      // Assess
      expect(answer).toMatchObject({ success: false, isError: true });
      expect(answer.message).toMatch(new RegExp(`^${message.replace(/[.()]/g, "\\$&")}`));
      expect(api.requests).toEqual([]);
    },
  );
});
