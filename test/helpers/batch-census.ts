import { type RawAnswer, rawRequest } from "./raw-requests.ts";

/** Batch states that never change again. */
export const TERMINAL_BATCH = ["succeeded", "completed_with_errors", "failed", "cancelled"];
/** Job states that never change again. */
export const TERMINAL_JOB = ["succeeded", "failed", "cancelled"];

export interface Connection {
  readonly apiUrl: string;
  readonly token: string;
}

/** An authenticated API call, path sent as written, JSON body when given. */
export function call(
  connection: Connection,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<RawAnswer> {
  return rawRequest(connection.apiUrl, {
    method,
    path,
    headers: {
      authorization: `Bearer ${connection.token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    timeoutMs,
  });
}

export interface ListedBatch {
  readonly batchId: string;
  readonly status: string;
}

/**
 * Every batch GET /batches lists, following `nextCursor` page by page. Throws, naming the page,
 * when a page is not a 200 or the listing does not end within `maxPages`.
 */
export async function listEveryBatch(
  connection: Connection,
  maxPages = 200,
): Promise<ListedBatch[]> {
  const listed: ListedBatch[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const path: string = `/batches?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const answer = await call(connection, "GET", path);
    const body = answer.json as { batches?: ListedBatch[]; nextCursor?: string | null } | undefined;
    if (answer.status !== 200 || !Array.isArray(body?.batches)) {
      throw new Error(`GET ${path} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
    }
    listed.push(...body.batches);
    cursor = body.nextCursor ?? null;
    if (!cursor) return listed;
  }
  throw new Error(`GET /batches still had a next page after ${maxPages} pages`);
}
