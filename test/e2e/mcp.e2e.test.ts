import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnv, STEPBATCH_BIN } from "../helpers/cli.ts";
import { type E2ETarget, startTarget, waitFor } from "../helpers/e2e.ts";

let target: E2ETarget;
let mcp: Client;

beforeAll(async () => {
  target = await startTarget();
  // The server is `stepbatch mcp` as a real process, spoken to over stdio.
  mcp = new Client({ name: "stepbatch-e2e", version: "1.0.0" });
  await mcp.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [STEPBATCH_BIN, "mcp"],
      env: cliEnv(target) as Record<string, string>,
      stderr: "pipe",
    }),
  );
}, 60_000);
afterAll(async () => {
  await mcp?.close();
  await target?.close();
});

/** Calls a tool and parses the JSON text it answers with. */
async function callTool(name: string, args: Record<string, unknown>) {
  const result = (await mcp.callTool({ name, arguments: args })) as {
    content: { type: string; text: string }[];
    isError?: boolean;
  };
  return { ...JSON.parse(result.content[0]?.text ?? "{}"), isError: Boolean(result.isError) };
}

describe("the MCP server", () => {
  it("introduces itself and lists its ten tools, each with a JSON-schema input and guidance", async () => {
    // Act
    const { tools } = await mcp.listTools();
    // Assess
    expect(mcp.getServerVersion()?.name).toBe("stepbatch");
    expect(tools.map((t) => t.name).sort()).toEqual([
      "cancel_job",
      "check_job_status",
      "consolidate_temporary_results",
      "get_bulk_job_results",
      "get_cancel_receipt",
      "get_job_output",
      "get_temporary_results",
      "list_bulk_jobs",
      "resume_batch",
      "start_bulk_job",
    ]);
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.description?.length).toBeGreaterThan(60);
    }
    expect(tools.find((t) => t.name === "start_bulk_job")?.inputSchema.required).toEqual(["jobs"]);
  });

  it("starts a batch, follows it, cancels it with the results kept, and consolidates them", async () => {
    // Act: start
    const started = await callTool("start_bulk_job", {
      name: "from an assistant",
      jobs: [
        { name: "A", input: { pages: 10, workMs: 4000 } },
        { name: "B", input: { pages: 10, workMs: 4000 } },
      ],
      concurrency: 2,
    });
    expect(started).toMatchObject({ success: true, status: "queued", total: 2 });
    const { batchId } = started;
    // Act: follow
    await waitFor(
      async () => (await callTool("check_job_status", { batchId })).progress.running === 2,
      "the jobs to run",
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    const partial = await callTool("get_temporary_results", { batchId });
    // Act: cancel
    const cancelled = await callTool("cancel_job", {
      batchId,
      reason: "the assistant was asked to stop",
    });
    // The phases that were running save their partial output within about a second.
    const results = await waitFor(async () => {
      const answer = await callTool("get_bulk_job_results", { batchId });
      return answer.final && answer.jobsProcessed === 2 ? answer : undefined;
    }, "the partial results of both jobs");
    const listed = await callTool("list_bulk_jobs", { limit: 5 });
    const kept = await callTool("consolidate_temporary_results", { batchId });
    // Assess
    expect(partial).toMatchObject({ success: true, temporary: true, final: false });
    expect(cancelled).toMatchObject({
      success: true,
      status: "cancelled",
      jobsProcessed: expect.any(Number),
      hasResults: expect.any(Boolean),
      partialResults: expect.objectContaining({ pagesProcessed: expect.any(Number) }),
    });
    expect(cancelled.message).toMatch(/cancelled: 2 of 2 jobs cancelled/);
    expect(cancelled.stopping.map((s: { name: string }) => s.name).sort()).toEqual(["A", "B"]);
    expect(results).toMatchObject({
      success: true,
      status: "cancelled",
      final: true,
      jobsProcessed: 2,
      hasResults: true,
    });
    expect(results.partialResults.pagesProcessed).toBeGreaterThan(0);
    // The data itself comes back: each job's phases with their items, bounded and paged.
    const first = results.partialResults.processedJobs[0];
    expect(first.phases[0]).toMatchObject({ phase: "Ingest", itemCount: expect.any(Number) });
    expect(first.phases[0].items.length).toBeLessThanOrEqual(10);
    const output = await callTool("get_job_output", {
      batchId,
      jobId: first.jobId,
      phase: "Ingest",
      items: 3,
    });
    expect(output).toMatchObject({ success: true, jobId: first.jobId });
    expect(output.phases[0].items).toEqual(first.phases[0].items.slice(0, 3));
    expect(listed.batches[0].batchId).toBe(batchId);
    expect(kept).toMatchObject({
      success: true,
      uri: expect.stringMatching(/^s3:\/\/.+\/consolidated\//),
    });
  });

  it("previews a filter, then cancels exactly that selection with its confirmToken", async () => {
    const { batchId } = await callTool("start_bulk_job", {
      jobs: ["A", "B", "C"].map((name) => ({ name, input: { pages: 10, workMs: 5000 } })),
      concurrency: 1,
    });
    // A runs: the filter then chooses B and C, whatever the timing.
    await waitFor(
      async () => (await callTool("check_job_status", { batchId })).progress.running === 1,
      "A to run",
    );
    const preview = await callTool("cancel_job", {
      batchId,
      filter: { status: ["queued"] },
      dryRun: true,
    });
    const confirmed = await callTool("cancel_job", {
      batchId,
      confirmToken: preview.confirmToken,
    });
    const refused = await callTool("cancel_job", { batchId, dryRun: true });
    expect(preview).toMatchObject({ success: true, dryRun: true, count: 2 });
    expect(preview.message).toMatch(/show them to the user/);
    expect(confirmed).toMatchObject({ success: true, result: 1, selection: { selected: 2 } });
    expect(refused).toMatchObject({
      success: false,
      message: expect.stringMatching(/give filter/),
    });
    await callTool("cancel_job", { batchId });
  });

  it("cancels chosen jobs or one job, reporting outcomes and the results so far", async () => {
    const { batchId } = await callTool("start_bulk_job", {
      jobs: ["X", "Y", "Z"].map((name) => ({ name, input: { pages: 10, workMs: 5000 } })),
      concurrency: 1,
    });
    const subset = await callTool("cancel_job", { batchId, jobs: ["Y", "nope"] });
    const one = await callTool("cancel_job", { batchId, jobId: "job-00003" });
    const receipt = await callTool("get_cancel_receipt", {
      batchId,
      cancellationId: subset.cancellationId,
    });
    expect(subset).toMatchObject({
      success: true,
      status: "partially_cancelled",
      result: 2,
      outcomes: { Y: { code: 0 }, nope: { code: 2 } },
      cancellationId: expect.stringMatching(/^c-/),
    });
    expect(receipt).toMatchObject({
      success: true,
      scope: "subset",
      jobs: [{ name: "Y", outcome: "cancelled_before_start" }],
    });
    expect(one).toMatchObject({
      success: true,
      status: "cancelled",
      stopping: [],
      hasResults: expect.any(Boolean),
      jobsProcessed: expect.any(Number),
    });
    // A running job: the answer names the phase that is stopping, as a batch cancel does.
    await waitFor(
      async () => (await callTool("check_job_status", { batchId })).current.length === 1,
      "X to run",
    );
    const running = await callTool("cancel_job", { batchId, jobId: "job-00001" });
    expect(running).toMatchObject({
      success: true,
      wasInPhase: "Ingest",
      stopping: [{ jobId: "job-00001", name: "X", phase: "Ingest" }],
      message: expect.stringMatching(/Ingest phase is stopping and saving its partial output/),
    });
    await callTool("cancel_job", { batchId });
  });

  it("answers errors as success: false with a clear message", async () => {
    const { batchId } = await callTool("start_bulk_job", {
      jobs: [{ name: "only", input: { pages: 10, workMs: 5000 } }],
    });
    const noBatch = await callTool("check_job_status", { batchId: "b-zzzzzzzz-00000000" });
    const noJob = await callTool("cancel_job", { batchId, jobId: "job-00099" });
    const dotJob = await callTool("cancel_job", { batchId, jobId: ".." });
    const badStart = await callTool("start_bulk_job", { jobs: ["same", "same"] });
    const unchanged = await callTool("check_job_status", { batchId });
    expect(noBatch).toMatchObject({
      success: false,
      isError: true,
      message: "Batch b-zzzzzzzz-00000000 not found",
      status: 404,
    });
    expect(noJob).toMatchObject({
      success: false,
      message: `Job job-00099 not found in batch ${batchId}`,
    });
    expect(dotJob).toMatchObject({
      success: false,
      isError: true,
      message: expect.stringMatching(/^job id '\.\.' is not a job id/),
    });
    expect(badStart).toMatchObject({ success: false, code: "VALIDATION_FAILED" });
    // None of these cancelled anything: ".." once reached the whole batch's cancel route.
    expect(unchanged.progress.cancelled).toBe(0);
    expect(unchanged.cancel).toBeUndefined();
    await callTool("cancel_job", { batchId });
  });
});
