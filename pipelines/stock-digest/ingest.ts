import { z } from "zod";
import { definePhase } from "../../sdk/index.ts";
import type { Article } from "./news.ts";

/** What Ingest hands to Digest: every article fetched for the ticker. */
export interface Ingested {
  readonly ticker: string;
  readonly articles: readonly Article[];
}

export const stockInput = z
  .object({
    /** Pages of news to fetch per ticker. */
    pages: z.number().int().min(1).max(50).default(3),
  })
  .loose();

/**
 * Fetches a ticker's news page by page from the news API (NEWS_API_URL), emitting each page's
 * articles as items and checkpointing after each page: a retry, or a resume, never fetches a page
 * twice. The signal is passed to fetch, so a cancel stops a request in flight.
 */
export default definePhase<
  z.infer<typeof stockInput>,
  Ingested,
  { nextPage: number; articles: Article[] }
>({
  name: "Ingest",
  input: stockInput,
  async run(ctx) {
    const base = process.env.NEWS_API_URL;
    if (!base) throw new Error("NEWS_API_URL is not set: the news API this phase reads");
    const ticker = ctx.job.name;
    const articles = [...(ctx.checkpoint?.articles ?? [])];
    let page = ctx.checkpoint?.nextPage ?? 1;
    for (; page <= ctx.input.pages; page++) {
      if (ctx.signal.aborted) break; // a safe point: what was fetched is kept
      const url = `${base}/news/${encodeURIComponent(ticker)}?page=${page}`;
      let response: Response;
      try {
        response = await fetch(url, { signal: ctx.signal });
      } catch (error) {
        if (ctx.signal.aborted) break;
        throw error;
      }
      if (!response.ok) throw new Error(`news API answered ${response.status} for page ${page}`);
      const fetched = ((await response.json()) as { articles: Article[] }).articles;
      await ctx.emit(fetched);
      articles.push(...fetched);
      await ctx.save({ nextPage: page + 1, articles });
      ctx.progress(page, ctx.input.pages);
      ctx.log.debug("page fetched", { page, articles: fetched.length });
    }
    return { ticker, articles };
  },
});
