import { definePhase } from "../../sdk/index.ts";
import type { Digest } from "./digest.ts";

/** Where Commit stored the digest, and whether this run was the one that stored it. */
export interface Committed {
  readonly location: string;
  readonly created: boolean;
}

/**
 * Stores the digest with the news API, at a key derived from the batch and the ticker: running
 * Commit again (a retry, a resume) finds it stored and writes nothing twice.
 */
export default definePhase<unknown, Committed>({
  name: "Commit",
  async run(ctx) {
    const base = process.env.NEWS_API_URL;
    if (!base) throw new Error("NEWS_API_URL is not set: the news API this phase writes to");
    const digest = ctx.outputOf<Digest>("Digest");
    const location = `${base}/digests/${encodeURIComponent(ctx.job.batchId)}/${encodeURIComponent(digest.ticker)}`;
    const response = await fetch(location, {
      method: "PUT",
      headers: { "content-type": "application/json", "if-none-match": "*" },
      body: JSON.stringify(digest),
    });
    // 412: already stored by an earlier run of this Commit; nothing is written twice.
    if (response.status === 412) return { location, created: false };
    if (!response.ok) throw new Error(`news API answered ${response.status} storing the digest`);
    return { location, created: true };
  },
});
