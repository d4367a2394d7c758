import { definePhase } from "../../sdk/index.ts";
import type { Ingested } from "./ingest.ts";

/** A ticker's digest: what Commit stores. */
export interface Digest {
  readonly ticker: string;
  readonly articles: number;
  /** Mean sentiment of the articles, -1 to 1. */
  readonly sentiment: number | null;
  readonly headlines: readonly string[];
}

/** Summarises what Ingest fetched: the count, the mean sentiment and the three strongest headlines. */
export default definePhase<unknown, Digest>({
  name: "Digest",
  async run(ctx) {
    const { ticker, articles } = ctx.outputOf<Ingested>("Ingest");
    const total = articles.reduce((sum, a) => sum + a.sentiment, 0);
    const strongest = [...articles]
      .sort((a, b) => Math.abs(b.sentiment) - Math.abs(a.sentiment))
      .slice(0, 3)
      .map((a) => a.title);
    ctx.progress(1, 1);
    return {
      ticker,
      articles: articles.length,
      sentiment: articles.length > 0 ? Math.round((total / articles.length) * 100) / 100 : null,
      headlines: strongest,
    };
  },
});
