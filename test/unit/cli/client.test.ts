import { afterEach, describe, expect, it } from "vitest";
import {
  InvalidIdError,
  StepbatchClient,
  StepbatchConnectionError,
  StepbatchTimeoutError,
} from "../../../client/stepbatch-client.ts";
import { type FakeAnswer, type FakeApi, startFakeApi } from "../../helpers/fake-api.ts";

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const ok: FakeAnswer = { status: 200, body: { status: "cancelled", message: "done" } };
const clientOf = (fake: FakeApi, options: { timeoutMs?: number; cancelTimeoutMs?: number } = {}) =>
  new StepbatchClient({ apiUrl: fake.apiUrl, token: fake.token, ...options });

describe("the client's paths", () => {
  it("sends a job cancel to that job's route, whatever dots its ids hold", async () => {
    // Prepare
    api = await startFakeApi(() => ok);
    const client = clientOf(api);
    // Act
    await client.cancelJob("b-1", "TD.TO");
    await client.cancelJob("b.1", "...");
    await client.getJob("b-1", "a b%2F");
    // Assess
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /batches/b-1/jobs/TD%2ETO/cancel",
      "POST /batches/b%2E1/jobs/%2E%2E%2E/cancel",
      "GET /batches/b-1/jobs/a%20b%252F",
    ]);
  });

  it.each([
    ["..", "job id '..' is not a job id"],
    [".", "job id '.' is not a job id"],
    ["", "job id '' is not a job id"],
    ["a/b", "job id 'a/b' is not a job id"],
    ["a\nb", "job id 'a\\u000ab' is not a job id"],
  ])("refuses the job id %j before sending anything", async (jobId, message) => {
    // Prepare
    api = await startFakeApi(() => ok);
    const client = clientOf(api);
    // Act
    const calls = await Promise.allSettled([
      client.cancelJob("b-1", jobId),
      client.getJob("b-1", jobId),
      client.deleteJob("b-1", jobId),
    ]);
    // Assess
    for (const call of calls) {
      expect(call).toMatchObject({ status: "rejected", reason: expect.any(InvalidIdError) });
      expect(reasonOf(call)).toBe(
        `${message}: it cannot be empty, "." or "..", or contain "/" or control characters`,
      );
    }
    expect(api.requests).toEqual([]);
  });

  it("refuses a batch id that is a dot segment on every batch route, sending nothing", async () => {
    // Prepare
    api = await startFakeApi(() => ok);
    const client = clientOf(api);
    // Act
    const calls = await Promise.allSettled([
      client.getBatch(".."),
      client.getResults("."),
      client.cancelBatch(".."),
      client.cancelJobs("..", ["job-00001"]),
      client.cancelJob("..", "job-00001"),
      client.consolidate(".."),
    ]);
    // Assess
    for (const call of calls)
      expect(reasonOf(call)).toMatch(/^batch id '\.{1,2}' is not a batch id/);
    expect(api.requests).toEqual([]);
  });
});

describe("the client's time limits", () => {
  it("tells a request that got no answer in time from an API it cannot reach", async () => {
    // Prepare
    api = await startFakeApi(() => "hang");
    const slow = clientOf(api, { timeoutMs: 100 });
    const unreachable = new StepbatchClient({ apiUrl: "http://127.0.0.1:9", token: "t" });
    // Act
    const [timedOut, refused] = await Promise.allSettled([
      slow.getBatch("b-1"),
      unreachable.getBatch("b-1"),
    ]);
    // Assess
    expect(timedOut).toMatchObject({
      reason: { name: "StepbatchTimeoutError", method: "GET", timeoutMs: 100 },
    });
    expect(reasonOf(timedOut)).toBe(
      `the stepbatch API at ${api.apiUrl} did not answer GET /batches/b-1 within 0.1 s`,
    );
    expect(refused).toMatchObject({ reason: expect.any(StepbatchConnectionError) });
    expect(refused).not.toMatchObject({ reason: expect.any(StepbatchTimeoutError) });
  });

  it("waits longer for a cancel than for other calls by default, and as long as told", async () => {
    // Prepare: every answer takes 300 ms, longer than the 100 ms allowed to other calls.
    api = await startFakeApi(() => ({ status: 200, body: {}, delayMs: 300 }));
    const byDefault = clientOf(api, { timeoutMs: 100 });
    const told = clientOf(api, { timeoutMs: 100, cancelTimeoutMs: 100 });
    // Act
    const [cancelled, read, toldCancel] = await Promise.allSettled([
      byDefault.cancelBatch("b-1"),
      byDefault.getBatch("b-1"),
      told.cancelJob("b-1", "job-00001"),
    ]);
    // Assess
    expect(cancelled.status).toBe("fulfilled");
    expect(read).toMatchObject({ reason: expect.any(StepbatchTimeoutError) });
    expect(toldCancel).toMatchObject({
      reason: {
        name: "StepbatchTimeoutError",
        method: "POST",
        path: "/batches/b-1/jobs/job-00001/cancel",
        timeoutMs: 100,
      },
    });
  });
});

const reasonOf = (result: PromiseSettledResult<unknown>) =>
  result.status === "rejected" ? (result.reason as Error).message : "fulfilled";
