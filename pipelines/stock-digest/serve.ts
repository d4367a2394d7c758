import { startNewsServer } from "./fixture-server.ts";

/** `npm run stock-news`: the stock digest's news API on 127.0.0.1:4010 (STOCK_NEWS_PORT moves it). */
const port = Number(process.env.STOCK_NEWS_PORT ?? 4010);
const news = await startNewsServer({ port, delayMs: 300 });
console.log(`stock news API on ${news.url} (Ctrl-C stops it)`);
process.on("SIGINT", () => void news.close().then(() => process.exit(0)));
