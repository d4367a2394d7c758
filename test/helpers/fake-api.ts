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

/** Routes for an API too busy to answer a cancel in time: cancels hang, `reads` answer. */
export const cancelsHang =
  (reads: Record<string, FakeAnswer> = {}) =>
  (request: FakeRequest): FakeAnswer | undefined =>
    request.method === "POST" && request.path.endsWith("/cancel")
      ? "hang"
      : // Reads are routed by path; their query (a page size, say) does not change the answer.
        reads[`${request.method} ${request.path.split("?")[0]}`];

/** A batch as GET /batches/{batchId} answers it, with the fields the CLI and MCP server read. */
export function batchView(
  batchId: string,
  status: string,
  jobs: { jobId: string; name: string; status: string }[],
  extra: Record<string, unknown> = {},
) {
  const count = (s: string) => jobs.filter((j) => j.status === s).length;
  const progress = {
    total: jobs.length,
    queued: count("queued"),
    running: count("running"),
    succeeded: count("succeeded"),
    failed: count("failed"),
    cancelled: count("cancelled"),
    percent: 0,
  };
  return {
    batchId,
    name: "fake",
    status,
    total: jobs.length,
    progress,
    current: [],
    jobs: jobs.map((j) => ({ ...j, phase: null, wasInPhase: null })),
    createdAt: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}

/** `n` jobs job-00001..., the first `cancelled` of them cancelled and the others running. */
export const jobsOf = (n: number, cancelled: number) =>
  Array.from({ length: n }, (_, i) => ({
    jobId: `job-${String(i + 1).padStart(5, "0")}`,
    name: `j${i + 1}`,
    status: i < cancelled ? "cancelled" : "running",
  }));
