import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, runCli, startCli } from "../helpers/cli.ts";
import {
  type Api,
  client,
  type E2ETarget,
  job,
  startTarget,
  waitFor,
  waitForBatchEnd,
} from "../helpers/e2e.ts";

let target: E2ETarget;
let api: Api;
const scratch = mkdtempSync(join(tmpdir(), "stepbatch-cli-"));
beforeAll(async () => {
  target = await startTarget();
  api = client(target);
}, 60_000);
afterAll(async () => target?.close());

const slowBatch = async (names = ["slow-1", "slow-2", "slow-3"]) =>
  (
    await api.submit({
      jobs: names.map((n) => job(n, { pages: 10, workMs: 5000 })),
      concurrency: 1,
    })
  ).body.batchId as string;

describe("stepbatch submit", () => {
  it("starts a batch from arguments and prints its id, and its JSON with --json", async () => {
    // Act
    const human = await runCli(target, [
      "submit",
      "RY.TO",
      "TD.TO",
      "--input",
      '{"pages":1,"workMs":0}',
      "--name",
      "from args",
    ]);
    const json = await runCli(target, ["--json", "submit", "A", "B", "-c", "2"]);
    // Assess
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/Batch b-\S+ started: 2 jobs, 10 at a time \("from args"\)/);
    expect(human.stdout).toContain("stepbatch watch b-");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      status: "queued",
      total: 2,
      concurrency: 2,
      jobs: [{ name: "A" }, { name: "B" }],
    });
  });

  it("reads jobs from a file, one name per line, and from stdin as JSON", async () => {
    // Prepare
    const file = join(scratch, "jobs.txt");
    writeFileSync(file, "# tickers\nRY.TO\nTD.TO  # bank\n\nBNS.TO\n");
    // Act
    const fromFile = await runCli(target, ["--json", "submit", "--file", file]);
    const fromStdin = await runCli(target, ["--json", "submit", "--file", "-"], {
      stdin: JSON.stringify({
        name: "piped",
        jobs: [{ name: "X", input: { pages: 1 } }],
        concurrency: 3,
      }),
    });
    // Assess
    expect(JSON.parse(fromFile.stdout).jobs.map((j: { name: string }) => j.name)).toEqual([
      "RY.TO",
      "TD.TO",
      "BNS.TO",
    ]);
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ name: "piped", total: 1, concurrency: 3 });
  });

  it("refuses a command line with no jobs (exit 2) and an invalid batch with the API's message (exit 7)", async () => {
    const none = await runCli(target, ["submit"]);
    const invalid = await runCli(target, ["submit", "A", "A"]);
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe(
      "stepbatch: no jobs: name them (stepbatch submit RY.TO TD.TO), or use --file <path> (- for stdin)",
    );
    expect(invalid.code).toBe(7);
    expect(invalid.stderr).toMatch(
      /^stepbatch: jobs\[1\]: name 'A' is also jobs\[0\].*\(400 VALIDATION_FAILED\)\n$/,
    );
  });
});

describe("stepbatch watch", () => {
  it("follows the progress as it changes until the batch ends, and exits 0 when it succeeded", async () => {
    // Prepare
    const batchId = (
      await api.submit({
        jobs: ["p1", "p2", "p3"].map((n) => job(n, { pages: 2, workMs: 300 })),
        concurrency: 1,
      })
    ).body.batchId;
    // Act
    const run = await runCli(target, ["--json", "watch", batchId, "--interval", "100"]);
    // Assess
    const events = run.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const percents = events.filter((e) => e.type === "progress").map((e) => e.progress.percent);
    expect(run.code).toBe(0);
    expect(new Set(percents).size).toBeGreaterThanOrEqual(3);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(
      events.some((e) => e.type === "progress" && e.current.length > 0 && e.current[0].phase),
    ).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: "end", status: "succeeded" });
  });

  it("stops watching on Ctrl-C, says the batch keeps running, and exits 130", async () => {
    // Prepare
    const batchId = await slowBatch();
    const child = startCli(target, ["watch", batchId, "--interval", "100"]);
    const done = collect(child);
    let seen = "";
    child.stdout?.on("data", (chunk) => {
      seen += String(chunk);
    });
    await waitFor(async () => seen.includes("running"), "a progress line");
    // Act
    child.kill("SIGINT");
    const run = await done;
    // Assess
    expect(run.code).toBe(130);
    expect(run.stderr).toContain(`stopped watching; batch ${batchId} keeps running`);
    expect((await api.batch(batchId)).body.status).toBe("running");
    await api.cancel(batchId);
  });

  it("exits 8 when the batch ends without succeeding", async () => {
    const batchId = await slowBatch(["one"]);
    await api.cancel(batchId);
    const run = await runCli(target, ["watch", batchId, "--interval", "100"]);
    expect(run.code).toBe(8);
    expect(run.stdout).toContain(`Batch ${batchId} ended: cancelled`);
  });
});

describe("stepbatch cancel", () => {
  it("previews a filter with --dry-run, cancels exactly those with --confirm, and shows the receipt", async () => {
    // Prepare
    const batchId = await slowBatch(["slow-1", "keep-2", "drop-3", "drop-4"]);
    // Act
    const preview = await runCli(target, [
      "cancel",
      batchId,
      "--status",
      "queued",
      "--name",
      "drop-*",
      "--dry-run",
    ]);
    const token = /--confirm (s-[0-9a-f]{24})/.exec(preview.stdout)?.[1] ?? "";
    const confirmed = await runCli(target, ["--json", "cancel", batchId, "--confirm", token]);
    const cancellationId = JSON.parse(confirmed.stdout).cancellationId as string;
    const receipt = await runCli(target, ["receipt", batchId, cancellationId]);
    const badMode = await runCli(target, ["cancel", batchId, "--mode", "gently"]);
    await runCli(target, ["cancel", batchId, "--mode", "after-phase"]);
    // Assess
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/Dry run: 2 jobs of b-\S+ match; nothing was cancelled/);
    expect(preview.stdout).toContain("drop-3 (job-00003)");
    expect(token).toMatch(/^s-/);
    expect(confirmed.code).toBe(0);
    expect(JSON.parse(confirmed.stdout)).toMatchObject({ result: 1, selection: { selected: 2 } });
    expect(receipt.code).toBe(0);
    expect(receipt.stdout).toMatch(/2 cancelled_before_start/);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toMatch(/--mode must be one of now, drain, after-phase/);
  });

  it("cancels a running batch and prints each job's fate and the partial results", async () => {
    // Prepare
    const batchId = await slowBatch();
    await waitFor(
      async () => (await api.batch(batchId)).body.progress.running === 1,
      "a job to run",
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    // Act
    const run = await runCli(target, ["cancel", batchId, "--reason", "wrong batch"]);
    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`Batch ${batchId} cancelled: 3 of 3 jobs cancelled`));
    expect(run.stdout).toContain("cancelled: slow-1, slow-2, slow-3");
    expect(run.stdout).toContain("stopping and saving their partial output: slow-1 (Ingest)");
    expect(run.stdout).toMatch(/Results of b-\S+: \d+ jobs? with results/);
    // The stopped phase's partial output follows within about a second.
    const later = await waitFor(async () => {
      const results = await runCli(target, ["results", batchId]);
      // The job's partial output, and the batch's sums it was added to (written just after).
      return /Ingest \(partial\)/.test(results.stdout) &&
        /: 1 job with results/.test(results.stdout)
        ? results
        : undefined;
    }, "the partial output in stepbatch results");
    expect(later.stdout).toMatch(
      /Results of b-\S+: 1 job with results, \d+ items; pagesProcessed \d+, averageScore [\d.]+/,
    );
    expect(later.stdout).toMatch(/showing 1 of 1 job with results/);
    // Who cancelled is the token's principal; the CLI's user@host is kept as a claim.
    expect((await api.batch(batchId)).body.cancel).toMatchObject({
      reason: "wrong batch",
      by: "operator",
      claimedBy: expect.stringContaining("@"),
    });
  });

  it("cancels a job by its name, and exits 4 when asked again and 3 for a name that is no job's", async () => {
    const batchId = await slowBatch(["by-name", "other"]);
    const first = await runCli(target, ["cancel-job", batchId, "by-name"]);
    const again = await runCli(target, ["cancel-job", batchId, "by-name"]);
    const none = await runCli(target, ["cancel", batchId, "--jobs", "ghost"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/by-name \(job-00001\) cancelled/);
    expect(again.code).toBe(4);
    expect(again.stdout).toMatch(/was already cancelled/);
    expect(none.code).toBe(3);
    await api.cancel(batchId);
  });

  it("cancels chosen jobs and prints an outcome per job with its code", async () => {
    const batchId = await slowBatch();
    const run = await runCli(target, ["cancel", batchId, "--jobs", "slow-2,job-00003,ghost"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/2 of 3 requested jobs cancelled .*\(result 2: some cancelled\)/);
    expect(run.stdout).toMatch(/ghost\s+│ 2\s+│ not_found/);
    expect(run.stdout).toMatch(/slow-2\s+│ 0\s+│ cancelled/);
    await api.cancel(batchId);
  });

  it("refuses cancel-job <batch> .. with exit 2 and cancels nothing: '..' is no job id, and was once the batch's cancel route", async () => {
    // Prepare
    const batchId = await slowBatch(["kept-1", "kept-2"]);
    // Act
    const run = await runCli(target, ["cancel-job", batchId, ".."]);
    // Assess
    const view = (await api.batch(batchId)).body;
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `stepbatch: job id '..' is not a job id: it cannot be empty, "." or "..", or contain "/" or control characters\n`,
    );
    expect(run.stdout).toBe("");
    expect(view.cancel).toBeUndefined();
    expect(view.progress.cancelled).toBe(0);
    expect(["queued", "running"]).toContain(view.status);
    await api.cancel(batchId);
  });

  it("cancel-job, then delete-job, status --job, results --output and consolidate", async () => {
    // Prepare
    const batchId = await slowBatch(["only"]);
    const output = join(scratch, "results.json");
    await waitFor(
      async () => ((await api.job(batchId, "job-00001")).body.items?.Ingest ?? 0) > 0,
      "a first page",
    );
    // Act
    const cancelled = await runCli(target, [
      "cancel-job",
      batchId,
      "job-00001",
      "--reason",
      "hung",
    ]);
    await waitForBatchEnd(api, batchId);
    const shown = await runCli(target, ["status", batchId, "--job", "job-00001"]);
    const results = await runCli(target, ["results", batchId, "--output", output]);
    const downloaded = join(scratch, "consolidated.json");
    const consolidated = await runCli(target, ["consolidate", batchId, "--download", downloaded]);
    const deleted = await runCli(target, ["delete-job", batchId, "job-00001"]);
    const again = await runCli(target, ["cancel-job", batchId, "job-00001"]);
    // Assess
    expect(cancelled.stdout).toMatch(/Job job-00001 cancelled/);
    expect(shown.stdout).toMatch(/Job job-00001 "only" of b-\S+: cancelled/);
    expect(results.stderr).toBe(`stepbatch: 1 job with results written to ${output}\n`);
    const written = JSON.parse(readFileSync(output, "utf8"));
    expect(written).toMatchObject({ batchId, status: "cancelled", jobsProcessed: 1 });
    expect(written.jobs[0].phases[0]).toMatchObject({ phase: "Ingest", status: "partial" });
    expect(written.jobs[0].phases[0].items).toHaveLength(written.jobs[0].phases[0].itemCount);
    expect(consolidated.stdout).toMatch(/written to s3:\/\/.+\/consolidated\//);
    expect(consolidated.stderr).toBe(`stepbatch: consolidated results saved to ${downloaded}\n`);
    const saved = JSON.parse(readFileSync(downloaded, "utf8"));
    expect(saved.batch.batchId).toBe(batchId);
    expect(saved.jobs[0].phases[0].items).toEqual(written.jobs[0].phases[0].items);
    expect(deleted.stdout).toContain("Deleted job job-00001 (only, cancelled)");
    expect(again.code).toBe(3);
  });
});

describe("errors, as one line with a documented exit code", () => {
  it("exits 3 for an unknown batch, 4 for a finished job, 5 for a wrong token and 6 when the API is down", async () => {
    // Prepare
    const done = (await api.submit({ jobs: [job("quick", { pages: 1, workMs: 0 })] })).body.batchId;
    await waitForBatchEnd(api, done);
    // Act
    const unknown = await runCli(target, ["status", "b-zzzzzzzz-00000000"]);
    const finished = await runCli(target, ["cancel-job", done, "job-00001"]);
    const forbidden = await runCli(target, ["list"], { env: { STEPBATCH_TOKEN: "wrong" } });
    const down = await runCli(target, ["list"], {
      env: { STEPBATCH_API_URL: "http://127.0.0.1:9" },
    });
    // Assess
    expect([unknown.code, finished.code, forbidden.code, down.code]).toEqual([3, 4, 5, 6]);
    expect(unknown.stderr).toBe(
      "stepbatch: Batch b-zzzzzzzz-00000000 not found (404 BATCH_NOT_FOUND)\n",
    );
    expect(finished.stderr).toMatch(/already finished as succeeded \(409 JOB_ALREADY_FINISHED\)/);
    expect(down.stderr).toMatch(/cannot reach the stepbatch API at http:\/\/127\.0\.0\.1:9/);
    for (const run of [unknown, finished, forbidden, down])
      expect(run.stderr.split("\n").filter(Boolean)).toHaveLength(1);
  });
});

describe("stepbatch list", () => {
  it("lists batches newest first in a table", async () => {
    const batchId = (
      await api.submit({ name: "listed", jobs: [job("l", { pages: 1, workMs: 0 })] })
    ).body.batchId;
    const run = await runCli(target, ["list", "--limit", "3"]);
    expect(run.code).toBe(0);
    expect(run.stdout.split("\n")[3]).toContain(batchId);
  });
});
