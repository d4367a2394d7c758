/* Raw HTTP requests with paths and headers sent as written, for the fault suite (fetch would normalise them). */
import { type IncomingHttpHeaders, request } from "node:http";

export interface RawRequest {
  readonly method: string;
  /** Sent exactly as written: no dot-segment removal, no re-encoding (fetch would do both). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** @default 60_000 */
  readonly timeoutMs?: number;
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly json: unknown;
}

/**
 * One HTTP request over its own connection (no keep-alive, so an odd request cannot leave a
 * connection in a state that changes the next answer). Rejects when no answer arrives.
 */
export function rawRequest(baseUrl: string, req: RawRequest): Promise<RawAnswer> {
  const base = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: base.hostname,
        port: base.port,
        method: req.method,
        path: req.path,
        headers: {
          ...req.headers,
          ...(req.body !== undefined
            ? { "content-length": String(Buffer.byteLength(req.body)) }
            : {}),
        },
        agent: false,
        timeout: req.timeoutMs ?? 60_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json });
        });
      },
    );
    outgoing.on("timeout", () =>
      outgoing.destroy(new Error(`no answer within ${req.timeoutMs ?? 60_000} ms`)),
    );
    outgoing.on("error", reject);
    outgoing.end(req.body);
  });
}

/** Characters node:http refuses in a request path: they must be percent-encoded. */
const UNSENDABLE_IN_PATH = /[^\u0021-\u00ff]/g;

/** Makes any text sendable in a path by percent-encoding only what node:http would refuse. */
export function sendablePath(text: string): string {
  return text.replace(UNSENDABLE_IN_PATH, (char) => encodeUtf8(char));
}

/** Percent-encodes the UTF-8 bytes of `char`; a lone surrogate becomes its WTF-8 bytes. */
export function encodeUtf8(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  if (code >= 0xd800 && code <= 0xdfff) {
    // A lone surrogate has no UTF-8 form: send the three bytes it would have (0xED 0xA0..0xBF ..).
    return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
      .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, "0")}`)
      .join("");
  }
  return encodeURIComponent(char);
}

/** The UTF-8 bytes of `text` as a latin1 string: how to send raw non-ASCII bytes in a path or header. */
export function utf8AsLatin1(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** Characters node:http refuses in a header value. */
export const UNSENDABLE_IN_HEADER = /[^\t\u0020-\u007e\u0080-\u00ff]/g;
