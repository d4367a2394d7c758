import { connect } from "node:net";
import { rawRequest as sendRaw } from "./raw-requests.ts";

export interface RawAnswer {
  readonly status: number;
  readonly text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  readonly body: any;
}

/**
 * One HTTP request with the path sent exactly as given (fetch and new URL() would normalise
 * `..`, `.` and `%2E%2E` away before the server sees them); a JSON body gets its content type.
 */
export async function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  const answer = await sendRaw(baseUrl, {
    method,
    path,
    headers: {
      ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  return { status: answer.status, text: answer.text, body: answer.json };
}

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
