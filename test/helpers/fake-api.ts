import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRequest {
  readonly method: string;
  /** The path exactly as it arrived, still percent-encoded: what the client really sent. */
  readonly path: string;
  readonly body: unknown;
}

/** A JSON answer (optionally late), or `"hang"`: never answer, as an overloaded API would not. */
export type FakeAnswer = { status: number; body?: unknown; delayMs?: number } | "hang";

export interface FakeApi {
  readonly apiUrl: string;
  readonly token: string;
  /** Every request received, in order. */
  readonly requests: FakeRequest[];
  close(): Promise<void>;
}

/**
 * A stand-in for the stepbatch API on 127.0.0.1 and a free port, for client, CLI and MCP tests
 * that need what the real stack cannot give on demand: exact raw paths, and answers that never
 * come. Routes answer from `route`; anything it leaves undefined is a 404.
 */
export async function startFakeApi(
  route: (request: FakeRequest) => FakeAnswer | undefined,
): Promise<FakeApi> {
  const requests: FakeRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = createServer(async (req, res) => {
    let text = "";
    for await (const chunk of req) text += String(chunk);
    const request = {
      method: req.method ?? "",
      path: req.url ?? "",
      body: text ? JSON.parse(text) : undefined,
    };
    requests.push(request);
    const answer = route(request) ?? {
      status: 404,
      body: { error: { code: "NOT_FOUND", message: `no route ${request.method} ${request.path}` } },
    };
    if (answer === "hang") return;
    const send = () => {
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
    };
    if (!answer.delayMs) return send();
    const timer = setTimeout(() => {
      timers.delete(timer);
      send();
    }, answer.delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}`,
    token: "fake-token",
    requests,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      // Requests left hanging on purpose hold their sockets open: end them.
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
