import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { articlesOf } from "./news.ts";

export interface NewsServerOptions {
  /** @default 0: a free port */
  readonly port?: number;
  /** How long each news page takes to answer. @default 0 */
  readonly delayMs?: number | ((ticker: string) => number);
  /** Requests to fail with a 503 first, by path and query (e.g. `/news/FLAKY?page=2`): how many. */
  readonly failFirst?: Readonly<Record<string, number>>;
}

/**
 * A small news API on 127.0.0.1 for the stock digest: deterministic articles per ticker and page,
 * digests stored once per key (`If-None-Match: *` answers 412 when one is there), and a count of
 * every request, so tests can tell that nothing was fetched or written twice.
 */
export async function startNewsServer(options: NewsServerOptions = {}) {
  const requests = new Map<string, number>();
  const digests = new Map<string, unknown>();
  const failures = new Map(Object.entries(options.failFirst ?? {}));
  const server = createServer((request, response) => {
    void handle(request, response).catch(() => send(response, 500, { error: "fixture error" }));
  });
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://fixture");
    const key = `${url.pathname}${url.search}`;
    requests.set(`${request.method} ${key}`, (requests.get(`${request.method} ${key}`) ?? 0) + 1);
    const news = /^\/news\/([^/]+)$/.exec(url.pathname);
    if (request.method === "GET" && news) {
      const ticker = decodeURIComponent(news[1] ?? "");
      const left = failures.get(key) ?? 0;
      if (left > 0) {
        failures.set(key, left - 1);
        return send(response, 503, { error: "temporarily unavailable" });
      }
      const delay =
        typeof options.delayMs === "function" ? options.delayMs(ticker) : options.delayMs;
      if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
      const page = Number(url.searchParams.get("page") ?? 1);
      return send(response, 200, { articles: articlesOf(ticker, page) });
    }
    if (request.method === "PUT" && url.pathname.startsWith("/digests/")) {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      if (digests.has(url.pathname) && request.headers["if-none-match"] === "*")
        return send(response, 412, { error: "already stored" });
      digests.set(url.pathname, JSON.parse(Buffer.concat(chunks).toString("utf8")));
      return send(response, 201, { stored: url.pathname });
    }
    return send(response, 404, { error: `no route ${request.method} ${url.pathname}` });
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** How many times each `METHOD /path?query` was asked for. */
    requests,
    /** The digests stored, by path. */
    digests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}
