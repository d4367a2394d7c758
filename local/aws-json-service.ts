import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RunningService } from "./emulators.ts";

/** An error answered in the AWS JSON protocol's shape, e.g. `ExecutionDoesNotExist`. */
export class AwsServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = type;
  }
}

export type Operations = Record<string, (input: any) => Promise<unknown> | unknown>;
/** A request's input, as its operation receives it (parsed JSON). */
export type OperationInput = Parameters<Operations[string]>[0];

/**
 * A minimal server for an AWS JSON 1.0/1.1 protocol service: `POST /` with
 * `X-Amz-Target: <prefix>.<Operation>`. What the AWS SDK sends, so handlers reach it through
 * `AWS_ENDPOINT_URL_<SERVICE>` and nothing else.
 */
export async function startAwsJsonService(options: {
  readonly name: string;
  readonly targetPrefix: string;
  readonly operations: Operations;
  readonly port?: number;
  readonly contentType?: string;
  /**
   * Checks the caller may make this call (IAM), throwing an AwsServiceError (AccessDeniedException)
   * when it may not. @default every call is allowed
   */
  readonly authorize?: (
    request: IncomingMessage,
    operation: string,
    input: OperationInput,
  ) => Promise<void>;
}): Promise<RunningService> {
  const contentType = options.contentType ?? "application/x-amz-json-1.0";
  const server = createServer((request, response) => {
    // A request that crashes its handler gets an error answer; it never ends the process.
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent || response.destroyed) response.destroy();
      else internalFailure(response, contentType, error);
    });
  });
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const reply = (status: number, body: unknown) => {
      const text = JSON.stringify(body); // first: an answer that cannot be serialised throws here
      response.writeHead(status, {
        "content-type": contentType,
        "x-amzn-requestid": crypto.randomUUID(),
      });
      response.end(text);
    };
    try {
      const target = String(request.headers["x-amz-target"] ?? "");
      const operation = target.startsWith(`${options.targetPrefix}.`)
        ? target.slice(options.targetPrefix.length + 1)
        : "";
      const run = options.operations[operation];
      if (!run)
        throw new AwsServiceError(
          "UnknownOperationException",
          `${options.name} does not support ${target || "this request"} locally`,
        );
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString("utf8");
      let input: unknown;
      try {
        input = text ? JSON.parse(text) : {};
      } catch (error) {
        throw new AwsServiceError("SerializationException", (error as Error).message);
      }
      await options.authorize?.(request, operation, input);
      reply(200, (await run(input)) ?? {});
    } catch (error) {
      if (error instanceof AwsServiceError) {
        reply(error.statusCode, { __type: error.type, message: error.message });
      } else {
        internalFailure(response, contentType, error);
      }
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(
              `${options.name} cannot listen on 127.0.0.1:${options.port}: the port is already in use`,
            )
          : error,
      ),
    );
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function internalFailure(response: ServerResponse, contentType: string, error: unknown): void {
  response.writeHead(500, { "content-type": contentType, "x-amzn-requestid": crypto.randomUUID() });
  response.end(
    JSON.stringify({
      __type: "InternalFailure",
      message: error instanceof Error ? error.message : String(error),
    }),
  );
}
