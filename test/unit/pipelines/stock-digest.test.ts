import { afterAll, beforeAll, describe, expect, it } from "vitest";
import commit from "../../../pipelines/stock-digest/commit.ts";
import digest from "../../../pipelines/stock-digest/digest.ts";
import { startNewsServer } from "../../../pipelines/stock-digest/fixture-server.ts";
import { articlesOf } from "../../../pipelines/stock-digest/news.ts";
import { runPhase } from "../../helpers/phase-context.ts";

let news: Awaited<ReturnType<typeof startNewsServer>>;
beforeAll(async () => {
  news = await startNewsServer();
  process.env.NEWS_API_URL = news.url;
});
afterAll(async () => news?.close());

describe("the stock digest's phases", () => {
  it("Digest summarises the articles Ingest handed it", async () => {
    const articles = [...articlesOf("RY.TO", 1), ...articlesOf("RY.TO", 2)];
    const { output } = await runPhase(digest, {
      input: {},
      previous: { Ingest: { ticker: "RY.TO", articles } },
    });
    const mean = articles.reduce((sum, a) => sum + a.sentiment, 0) / articles.length;
    expect(output).toMatchObject({ ticker: "RY.TO", articles: 8 });
    expect(output.sentiment).toBeCloseTo(mean, 2);
    expect(output.headlines).toHaveLength(3);
  });

  it("Commit run twice for the same job stores the digest once", async () => {
    // Prepare
    const previous = {
      Digest: { ticker: "TD.TO", articles: 4, sentiment: 0.1, headlines: ["TD.TO holds dividend"] },
    };
    // Act
    const first = await runPhase(commit, { input: {}, previous });
    const second = await runPhase(commit, { input: {}, previous });
    // Assess
    expect(first.output.created).toBe(true);
    expect(second.output).toEqual({ location: first.output.location, created: false });
    expect([...news.digests.keys()]).toEqual(["/digests/b-test/TD.TO"]);
    expect(news.requests.get("PUT /digests/b-test/TD.TO")).toBe(2);
  });
});
