import { request } from "node:http";
import { connect } from "node:net";

export interface RawAnswer {
  readonly status: number;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly body: any;
}

/**
 * One HTTP request with the path sent exactly as given (fetch and new URL() would normalise
 * `..`, `.` and `%2E%2E` away before the server sees them).
 */
export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: hostname,
        port,
        method,
        path,
        headers: {
          ...(options.body !== undefined
            ? {
                "content-type": "application/json",
                "content-length": Buffer.byteLength(options.body),
              }
            : {}),
          ...options.headers,
        },
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("error", reject);
        incoming.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: incoming.statusCode ?? 0, text, body });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end(options.body);
  });
}

/**
 * A client that announces a body, sends part of it and hangs up: the server sees its request
 * stream fail mid-body. Resolves once the connection is closed.
 */
export function hangUpMidRequest(baseUrl: string, head: string, partOfBody: string): Promise<void> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`${head}\r\nContent-Length: 100000\r\n\r\n${partOfBody}`, () =>
        setTimeout(() => socket.destroy(), 50),
      );
    });
    socket.on("error", reject);
    socket.on("close", () => resolve());
  });
}

/**
 * A DynamoDB request as text, for bodies the SDK cannot build (it serialises recursively). The
 * signature is well formed but not checked: dynalite checks the header's shape only.
 */
export function dynamoRequest(
  endpoint: string,
  operation: string,
  body: string,
): Promise<RawAnswer> {
  return rawRequest(endpoint, "POST", "/", {
    headers: {
      "content-type": "application/x-amz-json-1.0",
      "x-amz-target": `DynamoDB_20120810.${operation}`,
      "x-amz-date": "20300101T000000Z",
      authorization:
        "AWS4-HMAC-SHA256 Credential=local/20300101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
    },
    body,
  });
}

/** An attribute value nested `levels` maps deep, as JSON text (built without recursion). */
export const nestedAttributeJson = (levels: number): string =>
  `${'{"M":{"a":'.repeat(levels)}{"S":"bottom"}${"}}".repeat(levels)}`;
