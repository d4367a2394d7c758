import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { runCli } from "../helpers/cli.ts";
import { type Api, client, type E2ETarget, waitForBatchEnd } from "../helpers/e2e.ts";

// Running a schedule by hand is a local-stack feature (EventBridge Scheduler runs them on AWS),
// so this suite always runs the local stack, whatever E2E_API_URL says.
let stack: LocalStack;
let target: E2ETarget;
let api: Api;
beforeAll(async () => {
  stack = await startLocalStack({ port: 0 });
  target = { apiUrl: stack.apiUrl, token: stack.token } as E2ETarget;
  api = client(target);
}, 60_000);
afterAll(async () => stack?.stop());

describe("scheduled batches on the local stack", () => {
  it("lists the schedules of the demo config", async () => {
    const listed = await runCli(target, ["schedules"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(
      /nightly-tickers\s+cron\(0 2 \* \* \? \*\) America\/Toronto \(disabled\): 5 jobs/,
    );
  });

  it("runs a schedule's batch by hand through the same submit path, and starts one batch per occurrence", async () => {
    // The schedule is named as in the config; the answer names it as deployed.
    // Act
    const first = await runCli(target, [
      "--json",
      "run-schedule",
      "nightly-tickers",
      "--scheduled-time",
      "2030-01-01T02:00:00Z",
    ]);
    const again = await runCli(target, [
      "--json",
      "run-schedule",
      "nightly-tickers",
      "--scheduled-time",
      "2030-01-01T02:00:00Z",
    ]);
    const next = await runCli(target, [
      "--json",
      "run-schedule",
      "nightly-tickers",
      "--scheduled-time",
      "2030-01-02T02:00:00Z",
    ]);
    // Assess
    const started = JSON.parse(first.stdout);
    expect(started).toMatchObject({
      schedule: "Stepbatch-nightly-tickers",
      status: "queued",
      name: "nightly tickers",
      total: 5,
      concurrency: 5,
    });
    expect(JSON.parse(again.stdout)).toMatchObject({
      batchId: started.batchId,
      idempotentReplay: true,
    });
    expect(JSON.parse(next.stdout).batchId).not.toBe(started.batchId);
    const batch = await api.batch(started.batchId);
    expect(batch.body.source).toEqual({
      kind: "schedule",
      scheduleName: "nightly-tickers",
      scheduledTime: "2030-01-01T02:00:00Z",
    });
    const ended = await waitForBatchEnd(api, started.batchId);
    expect(ended.status).toBe("succeeded");
  });

  it("says which schedules exist when asked for an unknown one (exit 3)", async () => {
    const unknown = await runCli(target, ["run-schedule", "no-such-schedule"]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toBe(
      "stepbatch: no schedule 'no-such-schedule' (schedules: nightly-tickers) (404 SCHEDULE_NOT_FOUND)\n",
    );
  });

  it("refuses the local routes without the token", async () => {
    const answer = await fetch(`${stack.apiUrl}/_local/schedules`);
    expect(answer.status).toBe(401);
  });
});
