import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { type Api, client, type E2ETarget, job, waitForBatchEnd } from "../helpers/e2e.ts";

// Everything the handlers print (their logs) and the local stack prints (its stdout and stderr):
// capture it all, with the most talkative settings an operator could choose.
const captured: string[] = [];
const originals = {
  out: process.stdout.write.bind(process.stdout),
  err: process.stderr.write.bind(process.stderr),
};
const TOKEN = "tok_e2e_5ecret_7f3a9c1d2b8e4f60";
const WRONG = "wrong_5ecret_guess_0123456789ab";

let stack: LocalStack;
let api: Api;
beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    token: TOKEN,
    logLevel: "DEBUG",
    environment: { POWERTOOLS_LOGGER_LOG_EVENT: "true" },
    functionLog: ({ text }) => captured.push(`${text}\n`),
  });
  api = client({ apiUrl: stack.apiUrl, token: TOKEN } as E2ETarget);
  // Kept, not printed: a passing test run prints nothing but results.
  const capture = ((chunk: unknown) => {
    captured.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = capture;
  process.stderr.write = capture;
}, 60_000);
afterAll(async () => {
  // The stack first: what it still delivers while stopping (a reconcile) is captured too.
  await stack?.stop();
  process.stdout.write = originals.out;
  process.stderr.write = originals.err;
});

describe("the logs", () => {
  it("never contain the API token or a wrong token, through a whole batch, a cancel and refused requests", async () => {
    // Act: every kind of request, with the right token, a wrong one, and the alias header.
    const submitted = await api.submit({
      jobs: [job("a", { pages: 2, workMs: 50 }), job("b", { pages: 10, workMs: 5000 })],
    });
    await api.call("GET", "/batches", undefined, { token: WRONG });
    await api.call("GET", "/batches", undefined, {
      token: null,
      headers: { "X-Admin-Token": WRONG },
    });
    await api.call("POST", "/batches", undefined, { raw: `{"jobs": ["${TOKEN}"`, token: TOKEN });
    await api.cancelJob(submitted.body.batchId, "job-00002", { reason: "testing the logs" });
    await waitForBatchEnd(api, submitted.body.batchId);
    await api.results(submitted.body.batchId);
    // Assess: there are logs (the test can see them), and no secret in any of them.
    const logs = captured.join("");
    expect(logs).toMatch(/"message":"phase ended"/);
    expect(logs).toMatch(/"message":"request with a wrong token denied"/);
    expect(logs).not.toContain(TOKEN);
    expect(logs).not.toContain(WRONG);
  });
});
