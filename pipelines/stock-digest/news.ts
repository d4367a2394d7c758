import { createHash } from "node:crypto";

/** One news article, as the news source answers it. */
export interface Article {
  readonly id: string;
  readonly ticker: string;
  readonly page: number;
  readonly title: string;
  /** -1 (bad news) to 1 (good news). */
  readonly sentiment: number;
}

const WORDS = ["beats", "misses", "raises", "cuts", "holds", "expands", "trims", "reports"];
const THINGS = ["guidance", "dividend", "outlook", "margins", "buyback", "forecast", "loan book"];

/** The articles of a ticker's page: the same every time, so reruns and tests agree. */
export function articlesOf(ticker: string, page: number, perPage = 4): Article[] {
  return Array.from({ length: perPage }, (_, i) => {
    const digest = createHash("sha256").update(`${ticker}|${page}|${i}`).digest();
    const word = WORDS[(digest[0] ?? 0) % WORDS.length];
    const thing = THINGS[(digest[1] ?? 0) % THINGS.length];
    return {
      id: `${ticker}-${page}-${i + 1}`,
      ticker,
      page,
      title: `${ticker} ${word} ${thing}`,
      sentiment: Math.round(((digest.readUInt16BE(2) / 0xffff) * 2 - 1) * 100) / 100,
    };
  });
}
