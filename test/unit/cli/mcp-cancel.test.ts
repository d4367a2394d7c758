import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterEach, describe, expect, it } from "vitest";
import { createMcpServer } from "../../../cli/mcp.ts";
import { StepbatchClient } from "../../../client/stepbatch-client.ts";
import {
  batchView,
  cancelsHang,
  type FakeAnswer,
  type FakeApi,
  jobsOf,
  startFakeApi,
} from "../../helpers/fake-api.ts";

// The MCP server over an in-memory transport, its client pointed at a fake API whose cancels
// never answer within the client's (short) cancel time limit.

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
    cancelTimeoutMs: 200,
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

const job = (status: string, extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: { batchId: "b-1", jobId: "job-00001", name: "A", status, inCommit: false, ...extra },
});

describe("cancel_job when the cancel request times out", () => {
  it("answers success with what the batch shows once the cancel took effect", async () => {
    // Prepare
    api = await startFakeApi(
      cancelsHang({
        "GET /batches/b-1": { status: 200, body: batchView("b-1", "cancelled", jobsOf(50, 47)) },
      }),
    );
    await connect(api);
    // Act
    const answer = await callTool("cancel_job", { batchId: "b-1", reason: "stop" });
    // Assess
    expect(answer).toMatchObject({
      success: true,
      isError: false,
      timedOut: true,
      outcome: "took_effect",
      status: "cancelled",
      progress: { cancelled: 47, total: 50 },
      message:
        "The cancel request timed out after 0.2 s; batch b-1 is now cancelled: 47 of 50 jobs cancelled; call get_bulk_job_results for the results kept so far",
    });
  });

  it("answers success: false, saying the cancel may still be applied and how to check, when nothing shows it yet", async () => {
    // Prepare
    api = await startFakeApi(
      cancelsHang({
        "GET /batches/b-1": { status: 200, body: batchView("b-1", "running", jobsOf(3, 0)) },
      }),
    );
    await connect(api);
    // Act
    const answer = await callTool("cancel_job", { batchId: "b-1" });
    // Assess
    expect(answer).toMatchObject({
      success: false,
      isError: true,
      timedOut: true,
      outcome: "unconfirmed",
      message:
        "The cancel request timed out after 0.2 s; batch b-1 is still running with no cancel recorded (0 of 3 jobs cancelled): the cancel may still be applied; call check_job_status with batchId b-1 to see whether it was, or cancel_job again (a cancel is idempotent)",
    });
  });

  it.each([
    [
      "a batch with its cancel recorded",
      { "GET /batches/b-1": batchRunningWithCancel() },
      {},
      { success: true, outcome: "took_effect", status: "running" },
    ],
    [
      "a batch that ended as succeeded",
      {
        "GET /batches/b-1": {
          status: 200,
          body: batchView(
            "b-1",
            "succeeded",
            jobsOf(1, 0).map((j) => ({ ...j, status: "succeeded" })),
          ),
        },
      },
      {},
      { success: true, outcome: "nothing_to_cancel", status: "succeeded" },
    ],
    [
      "a job with its cancel recorded, still stopping",
      {
        "GET /batches/b-1/jobs/job-00001": job("running", { cancel: { by: "x" }, phase: "Digest" }),
      },
      { jobId: "job-00001" },
      { success: true, outcome: "took_effect", job: { status: "running" } },
    ],
    [
      "a job in its final commit",
      { "GET /batches/b-1/jobs/job-00001": job("running", { inCommit: true }) },
      { jobId: "job-00001" },
      { success: false, outcome: "not_cancelled", job: { inCommit: true } },
    ],
    [
      "a subset none of which shows cancelled yet",
      { "GET /batches/b-1": { status: 200, body: batchView("b-1", "running", jobsOf(2, 0)) } },
      { jobs: ["j1", "j2"] },
      { success: false, outcome: "unconfirmed", jobs: { j1: "running", j2: "running" } },
    ],
  ])("reads back %s and answers what it shows", async (_, reads, args, expected) => {
    // Prepare
    api = await startFakeApi(cancelsHang(reads));
    await connect(api);
    // Act
    const answer = await callTool("cancel_job", { batchId: "b-1", ...args });
    // Assess
    expect(answer).toMatchObject({ timedOut: true, ...expected });
  });
});

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

function batchRunningWithCancel(): FakeAnswer {
  return {
    status: 200,
    body: batchView("b-1", "running", jobsOf(3, 1), {
      cancel: { by: "x", reason: "stop", requestedAt: "", scope: "batch" },
    }),
  };
}
