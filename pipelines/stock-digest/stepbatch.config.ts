import { definePipeline, ratio, sum } from "../../sdk/index.ts";
import type { Committed } from "./commit.ts";
import type { Digest } from "./digest.ts";
import { stockInput } from "./ingest.ts";

/** The news API the phases call: STOCK_NEWS_URL when the stack is built, or the local fixture. */
const NEWS_API_URL = process.env.STOCK_NEWS_URL ?? "http://127.0.0.1:4010";

/**
 * The stock digest: Ingest fetches each ticker's news over HTTP, Digest summarises it, Commit
 * stores the digest idempotently. A job's name is its ticker.
 */
export default definePipeline({
  name: "stock-digest",
  phases: [
    { name: "Ingest", entry: "ingest.ts", environment: { NEWS_API_URL } },
    { name: "Digest", entry: "digest.ts" },
    { name: "Commit", entry: "commit.ts", environment: { NEWS_API_URL } },
  ],
  input: stockInput,
  concurrency: 5,
  summary: {
    perJob: ({ outputs }) => {
      const digest = outputs.Digest as Digest | null | undefined;
      const committed = outputs.Commit as Committed | null | undefined;
      return {
        articles: digest?.articles ?? 0,
        sentimentSum: digest?.sentiment != null ? digest.sentiment * digest.articles : 0,
        digestsStored: committed?.created ? 1 : 0,
      };
    },
    fields: {
      articlesDigested: sum("articles"),
      averageSentiment: ratio("sentimentSum", "articles"),
      digestsStored: sum("digestsStored"),
    },
  },
});
