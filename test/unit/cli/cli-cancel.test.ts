import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../../helpers/cli.ts";
import {
  batchView,
  cancelsHang,
  type FakeApi,
  jobsOf,
  startFakeApi,
} from "../../helpers/fake-api.ts";

// The CLI as a real process, against a fake API that can do what the real stack will not on
// demand: record the exact path sent, and leave a cancel unanswered past the CLI's time limit.

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const sent = (fake: FakeApi) => fake.requests.map((r) => `${r.method} ${r.path}`);

describe("stepbatch cancel-job with an id that cannot be a job id", () => {
  it.each(["..", ".", ""])(
    "refuses cancel-job b-1 %j with exit 2 and one line, and cancels nothing",
    async (jobId) => {
      // Prepare: an API that would accept any cancel.
      api = await startFakeApi(() => ({ status: 200, body: { message: "Batch b-1 cancelled" } }));
      // Act
      const run = await runCli(api, ["cancel-job", "b-1", jobId]);
      // Assess
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        `stepbatch: job id '${jobId}' is not a job id: it cannot be empty, "." or "..", or contain "/" or control characters\n`,
      );
      expect(run.stdout).toBe("");
      expect(api.requests).toEqual([]);
    },
  );
});

describe("a cancel that times out", () => {
  it("reads the batch back and reports it cancelled, with exit 0", async () => {
    // Prepare
    api = await startFakeApi(
      cancelsHang({
        "GET /batches/b-1": { status: 200, body: batchView("b-1", "cancelled", jobsOf(50, 47)) },
      }),
    );
    // Act
    const run = await runCli(api, ["--timeout", "1", "cancel", "b-1"]);
    // Assess
    expect(run).toEqual({
      code: 0,
      stdout:
        "The cancel request timed out after 1 s; batch b-1 is now cancelled: 47 of 50 jobs cancelled\n",
      stderr: "",
    });
    expect(sent(api)).toEqual(["POST /batches/b-1/cancel", "GET /batches/b-1?jobsLimit=1000"]);
  });

  it("reads one job back (time limit from STEPBATCH_TIMEOUT) and prints the read-back as JSON with --json", async () => {
    // Prepare
    const job = {
      batchId: "b-1",
      jobId: "job-00002",
      name: "TD.TO",
      status: "cancelled",
      wasInPhase: "Digest",
      inCommit: false,
      cancel: { by: "x", reason: "", requestedAt: "", scope: "job" },
    };
    api = await startFakeApi(
      cancelsHang({ "GET /batches/b-1/jobs/job-00002": { status: 200, body: job } }),
    );
    // Act
    const human = await runCli(api, ["cancel-job", "b-1", "job-00002"], {
      env: { STEPBATCH_TIMEOUT: "1" },
    });
    const json = await runCli(api, ["--json", "cancel-job", "b-1", "job-00002"], {
      env: { STEPBATCH_TIMEOUT: "1" },
    });
    // Assess
    expect(human.code).toBe(0);
    expect(human.stdout).toBe(
      "The cancel request timed out after 1 s; job job-00002 (TD.TO) of batch b-1 is now cancelled (stopped in Digest)\n",
    );
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      timedOut: true,
      outcome: "took_effect",
      batchId: "b-1",
      status: "cancelled",
      job: { jobId: "job-00002", name: "TD.TO", wasInPhase: "Digest" },
    });
  });

  it("reads a subset back and reports each job asked for", async () => {
    // Prepare
    const jobs = jobsOf(3, 2);
    api = await startFakeApi(
      cancelsHang({ "GET /batches/b-1": { status: 200, body: batchView("b-1", "running", jobs) } }),
    );
    // Act
    const run = await runCli(api, [
      "--timeout",
      "1",
      "cancel",
      "b-1",
      "--jobs",
      "j1,job-00002,ghost",
    ]);
    // Assess
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      "The cancel request timed out after 1 s; batch b-1 shows 2 of 3 requested jobs cancelled (j1 cancelled, job-00002 cancelled, ghost not found)\n",
    );
  });

  it("exits 9 and says how to check when the batch shows no cancel yet", async () => {
    // Prepare
    api = await startFakeApi(
      cancelsHang({
        "GET /batches/b-1": { status: 200, body: batchView("b-1", "running", jobsOf(50, 0)) },
      }),
    );
    // Act
    const run = await runCli(api, ["--timeout", "1", "cancel", "b-1"]);
    // Assess
    expect(run.code).toBe(9);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      "stepbatch: The cancel request timed out after 1 s; batch b-1 is still running with no cancel recorded (0 of 50 jobs cancelled): the cancel may still be applied; check with: stepbatch status b-1 (sending the cancel again is safe)\n",
    );
  });

  it("exits 9 when the batch cannot be read back either", async () => {
    // Prepare: nothing answers.
    api = await startFakeApi(() => "hang");
    // Act
    const run = await runCli(api, ["--timeout", "1", "cancel-job", "b-1", "job-00001"]);
    // Assess
    expect(run.code).toBe(9);
    expect(run.stderr).toMatch(
      /^stepbatch: The cancel request timed out after 1 s, and reading batch b-1 back failed too \(.*did not answer GET \/batches\/b-1\/jobs\/job-00001 within 1 s\): the cancel may or may not have been applied; check with: stepbatch status b-1 --job job-00001 \(sending the cancel again is safe\)\n$/,
    );
  });

  it("exits 4 when the job had finished, as the API would have answered", async () => {
    // Prepare
    const job = { jobId: "job-00001", name: "A", status: "succeeded", inCommit: false };
    api = await startFakeApi(
      cancelsHang({ "GET /batches/b-1/jobs/job-00001": { status: 200, body: job } }),
    );
    // Act
    const run = await runCli(api, ["--timeout", "1", "cancel-job", "b-1", "job-00001"]);
    // Assess
    expect(run.code).toBe(4);
    expect(run.stderr).toBe(
      "stepbatch: The cancel request timed out after 1 s; job job-00001 (A) of batch b-1 had already finished as succeeded: not cancelled\n",
    );
  });
});

describe("other requests that time out", () => {
  it("exit 6 with one line that names the request and the time limit", async () => {
    // Prepare
    api = await startFakeApi(() => "hang");
    // Act
    const run = await runCli(api, ["status", "b-1"], { env: { STEPBATCH_TIMEOUT: "0.5" } });
    // Assess
    expect(run.code).toBe(6);
    expect(run.stderr).toBe(
      `stepbatch: the stepbatch API at ${api.apiUrl} did not answer GET /batches/b-1 within 0.5 s; it may be overloaded: --timeout <seconds> waits longer\n`,
    );
  });

  it("refuses a time limit that is not a number of seconds, with exit 2", async () => {
    // Prepare
    api = await startFakeApi(() => undefined);
    // Act
    const run = await runCli(api, ["--timeout", "soon", "list"]);
    // Assess
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      "stepbatch: --timeout (or STEPBATCH_TIMEOUT) must be a number of seconds greater than 0, not 'soon'\n",
    );
    expect(api.requests).toEqual([]);
  });
});
