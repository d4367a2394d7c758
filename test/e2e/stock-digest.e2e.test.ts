import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { startNewsServer } from "../../pipelines/stock-digest/fixture-server.ts";
import { articlesOf } from "../../pipelines/stock-digest/news.ts";
import { runCli } from "../helpers/cli.ts";
import { type Api, client, type E2ETarget, waitFor, waitForBatchEnd } from "../helpers/e2e.ts";

// A user's pipeline on the local stack: the stock digest, whose Ingest calls a news API over HTTP.
// The news API is a fixture on 127.0.0.1 that counts every request, so the tests can tell that
// nothing was fetched or stored twice.
let news: Awaited<ReturnType<typeof startNewsServer>>;
let stack: LocalStack;
let api: Api;
let target: E2ETarget;
beforeAll(async () => {
  news = await startNewsServer({
    delayMs: (ticker) => (ticker === "SLOW.TO" ? 700 : 0),
    failFirst: { "/news/FLAKY.TO?page=2": 1 },
  });
  process.env.STOCK_NEWS_URL = news.url; // read when the pipeline module is loaded, as at synth
  stack = await startLocalStack({
    port: 0,
    stackProps: { config: "pipelines/stock-digest/stepbatch.config.ts" },
  });
  target = { apiUrl: stack.apiUrl, token: stack.token } as E2ETarget;
  api = client(target);
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await news?.close();
});

const fetches = (ticker: string, page: number) =>
  news.requests.get(`GET /news/${ticker}?page=${page}`) ?? 0;

describe("the stock digest pipeline on the local stack", () => {
  it("digests what Ingest fetched and stores each digest once, with the results in the API", async () => {
    // Act
    const submitted = await api.submit({ jobs: ["RY.TO", { name: "TD.TO", input: { pages: 2 } }] });
    const ended = await waitForBatchEnd(api, submitted.body.batchId);
    const results = await api.results(submitted.body.batchId);
    const ry = await api.call("GET", `/batches/${submitted.body.batchId}/jobs/job-00001/output`);
    // Assess
    expect(ended.status).toBe("succeeded");
    const fetched = [1, 2, 3].flatMap((page) => articlesOf("RY.TO", page));
    const [ingest, digest, commit] = ry.body.phases;
    expect(ingest).toMatchObject({ phase: "Ingest", status: "complete", itemCount: 12 });
    expect(ingest.output.articles).toEqual(fetched);
    // Digest received Ingest's output: its count and headlines come from those very articles.
    expect(digest.output).toMatchObject({ ticker: "RY.TO", articles: 12 });
    for (const headline of digest.output.headlines)
      expect(fetched.map((a) => a.title)).toContain(headline);
    expect(commit.output).toMatchObject({ created: true });
    expect(news.digests.get(`/digests/${submitted.body.batchId}/RY.TO`)).toEqual(digest.output);
    expect(results.body.partialResults).toMatchObject({
      articlesDigested: 12 + 8,
      digestsStored: 2,
    });
    expect(results.body.partialResults.averageSentiment).toEqual(expect.any(Number));
  });

  it("resumes a phase that failed from its checkpoint: no page is fetched twice", async () => {
    // Prepare: the news API fails FLAKY.TO's page 2 once.
    const before = [1, 2, 3].map((page) => fetches("FLAKY.TO", page));
    // Act
    const submitted = await api.submit({ jobs: ["FLAKY.TO"] });
    const ended = await waitForBatchEnd(api, submitted.body.batchId, 60_000);
    const job = await api.job(submitted.body.batchId, "job-00001");
    // Assess
    expect(ended.status).toBe("succeeded");
    expect(job.body.phases[0]).toMatchObject({ name: "Ingest", attempt: 2, status: "succeeded" });
    const after = [1, 2, 3].map((page) => fetches("FLAKY.TO", page) - (before[page - 1] ?? 0));
    expect(after).toEqual([1, 2, 1]); // page 2: the failure, then its retry; nothing else twice
    const output = await api.call(
      "GET",
      `/batches/${submitted.body.batchId}/jobs/job-00001/output`,
    );
    expect(output.body.phases[0].itemCount).toBe(12);
  }, 60_000);

  it("returns the articles fetched so far when the batch is cancelled mid-Ingest", async () => {
    // Prepare: a slow news source, 10 pages.
    const submitted = await api.submit({ jobs: [{ name: "SLOW.TO", input: { pages: 10 } }] });
    const { batchId } = submitted.body;
    await waitFor(
      async () => ((await api.job(batchId, "job-00001")).body.items?.Ingest ?? 0) >= 8,
      "two pages of articles",
    );
    // Act
    const cancelled = await api.cancel(batchId, { reason: "wrong ticker" });
    await waitForBatchEnd(api, batchId);
    const output = await waitFor(async () => {
      const answer = await api.call("GET", `/batches/${batchId}/jobs/job-00001/output?items=100`);
      return answer.body.phases[0]?.status === "partial" ? answer : undefined;
    }, "the stopped Ingest to save its output");
    // Assess
    expect(cancelled.body).toMatchObject({ status: "cancelled", jobsCancelled: 1 });
    const ingest = output.body.phases[0];
    const pages = ingest.itemCount / 4;
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(pages).toBeLessThan(10);
    expect(ingest.items).toEqual(
      Array.from({ length: pages }, (_, i) => articlesOf("SLOW.TO", i + 1)).flat(),
    );
    expect(ingest.output.articles).toEqual(ingest.items);
    expect(output.body.phases.map((p: any) => p.phase)).toEqual(["Ingest"]);
  }, 60_000);

  it("gives the outputs back through the CLI and refuses a bad input naming the field", async () => {
    // Prepare
    const submitted = await api.submit({ jobs: [{ name: "BNS.TO", input: { pages: 1 } }] });
    await waitForBatchEnd(api, submitted.body.batchId);
    // Act
    const shown = await runCli(target, ["output", submitted.body.batchId, "job-00001"]);
    const refused = await api.submit({ jobs: [{ name: "X", input: { pages: "many" } }] });
    // Assess
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/Output of job job-00001 "BNS.TO" of b-\S+: succeeded/);
    expect(shown.stdout).toMatch(/Ingest: complete, attempt 1, 4 items/);
    expect(shown.stdout).toContain(articlesOf("BNS.TO", 1)[0]?.title);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/jobs\[0\]\.input\.pages: .*expected number/);
  });
});
