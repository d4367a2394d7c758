import { setTimeout as sleep } from "node:timers/promises";
import { definePhase } from "stepbatch";
import { z } from "zod";

/**
 * Fetches a job's pages one at a time. After each page it emits what it found, saves where it is
 * and reports progress, so a cancel, a timeout or a crash loses nothing and a retry resumes.
 */
export default definePhase({
  name: "Fetch",
  input: z.object({ pages: z.number().int().positive().max(100).default(3) }),
  async run(ctx) {
    const checkpoint = ctx.checkpoint as { nextPage: number } | undefined;
    let page = checkpoint?.nextPage ?? 1;
    for (; page <= ctx.input.pages; page++) {
      if (ctx.signal.aborted) break; // a safe point: a cancel stops here, keeping every page so far
      const found = await fetchPage(ctx.job.name, page, ctx.signal);
      await ctx.emit([found]);
      await ctx.save({ nextPage: page + 1 });
      ctx.progress(page, ctx.input.pages);
    }
    return { pagesFetched: page - 1 };
  },
});

/**
 * Stands in for your real work: an HTTP call, a query, a file to read. Passing the signal on lets a
 * cancel end a slow call at once; an error thrown because of it counts as a stop, not a failure.
 */
async function fetchPage(job: string, page: number, signal: AbortSignal) {
  await sleep(500, undefined, { signal });
  return { job, page, words: job.length * page };
}
