import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
} from "aws-lambda";
import { safeDecode } from "../client/stepbatch-client.ts";
import type { ConsoleHandler } from "./console.ts";
import type { RunningService } from "./emulators.ts";
import { LambdaInvocationError, type LocalLambdaRuntime } from "./lambda-runtime.ts";
import type { LocalRoute } from "./template.ts";

/** A request to a local-only route: the raw path (no stage), headers in lower case, the body text. */
export interface LocalRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type LocalRoutes = (request: LocalRequest) => Promise<{ status: number; body: unknown }>;
const MAX_BODY_BYTES = 10 * 1024 * 1024; // API Gateway's payload limit

/**
 * The REST API as API Gateway serves it: routes and authorizer from the template, a REQUEST
 * authorizer call per request (results are not cached), Lambda proxy events to the same handlers,
 * and API Gateway's own errors in the API's JSON error shape. Served at the root and under
 * `/<stage>`.
 */
export async function startApiGateway(options: {
  readonly routes: readonly LocalRoute[];
  readonly runtime: LocalLambdaRuntime;
  readonly port: number;
  readonly host?: string;
  /** The stage the API is deployed as (also served as a path prefix). @default "local" */
  readonly stage?: string;
  /** Local-only routes under /_local/ (like LocalStack's /_localstack/): not part of the API. */
  readonly localRoutes?: LocalRoutes;
  /** The local console, served at `/` and under `/_console/` (not part of the API). @default none */
  readonly console?: ConsoleHandler;
  /** Where a failed invocation is reported, one line each. @default standard error */
  readonly logError?: (line: string) => void;
}): Promise<RunningService & { port: number }> {
  const host = options.host ?? "127.0.0.1";
  const stage = options.stage ?? "local";
  const stagePrefix = new RegExp(`^/${stage.replace(/[^A-Za-z0-9_-]/g, "\\$&")}(?=/|$)`);
  const logError = options.logError ?? ((line: string) => process.stderr.write(`${line}\n`));
  const compiled = options.routes.map((route) => ({ route, matcher: compile(route.path) }));
  const server = createServer((request, response) => {
    const requestId = randomUUID();
    // Whatever goes wrong with one request is answered to that request: it never ends the process.
    serve(request, response, requestId).catch((error: unknown) => {
      answerInternalError(response, requestId);
      if (request.socket.destroyed) return; // the client hung up: nothing went wrong here
      try {
        logError(
          `stepbatch: request ${requestId} failed in the local API gateway: ${oneLine(error)}`,
        );
      } catch {
        // a log that cannot be written must not end the process either
      }
    });
  });

  // A request Node's HTTP parser refuses (raw non-ASCII bytes in the request line, say) reaches no
  // route; API Gateway answers those itself, and so does this, in the API's error shape.
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || error.code === "ECONNRESET") return socket.destroy();
    const body = JSON.stringify({
      error: { code: "BAD_REQUEST", message: "the request is not valid HTTP" },
    });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  const serve = async (request: IncomingMessage, response: ServerResponse, requestId: string) => {
    const method = request.method ?? "GET";
    // API Gateway routes on the path as sent: no dot-segment normalisation and no decoding before
    // matching (new URL() would turn /jobs/%2E%2E/cancel into another route), then decodes each
    // path parameter.
    const target = request.url ?? "/";
    const queryAt = target.indexOf("?");
    const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
    const path = rawPath.replace(stagePrefix, "") || "/";
    if (
      options.console &&
      (await options.console(
        request,
        response,
        path,
        queryAt === -1 ? "" : target.slice(queryAt + 1),
      ))
    )
      return;
    if (path.startsWith("/_local/") && options.localRoutes) {
      const body = await readBody(request);
      if (body === undefined) return tooLarge(response);
      const answer = await options.localRoutes({
        method,
        path,
        headers: headersOf(request),
        body,
      });
      send(response, answer.status, answer.body);
      return;
    }
    const found = rawPath.startsWith("/")
      ? compiled
          .map(({ route, matcher }) => ({ route, params: matcher(path) }))
          .filter((m) => m.params)
      : [];
    const match =
      found.find((m) => m.route.method === method) ?? found.find((m) => m.route.method === "ANY");
    if (!match?.params) {
      // API Gateway's answer for an unknown route or method.
      send(response, 403, {
        error: {
          code: "BAD_REQUEST",
          message: `Missing Authentication Token (no route ${method} ${path})`,
        },
      });
      return;
    }
    const body = await readBody(request);
    if (body === undefined) return tooLarge(response);
    const headers = headersOf(request);
    const searchParams = new URLSearchParams(queryAt === -1 ? "" : target.slice(queryAt + 1));
    const query = searchParams.size > 0 ? Object.fromEntries(searchParams) : null;
    let principalId = "anonymous";

    if (match.route.authorizerFunctionArn) {
      const verdict = await authorize(
        options.runtime,
        stage,
        match.route,
        method,
        path,
        headers,
        query,
        match.params,
        requestId,
      );
      if (verdict instanceof Error) {
        // An authorizer that fails (rather than refusing) is a 500 from API Gateway.
        logError(`stepbatch: request ${requestId}: the authorizer failed: ${oneLine(verdict)}`);
        answerInternalError(response, requestId);
        return;
      }
      if (verdict === "unauthorized") {
        send(response, 401, {
          error: {
            code: "UNAUTHORIZED",
            message: "missing bearer token: send Authorization: Bearer <token>",
          },
        });
        return;
      }
      if (verdict === "denied") {
        send(response, 403, {
          error: { code: "FORBIDDEN", message: "the token is not valid for this API" },
        });
        return;
      }
      principalId = verdict.principalId;
    }

    const event: APIGatewayProxyEvent = {
      resource: match.route.path,
      path,
      httpMethod: method,
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      queryStringParameters: query,
      multiValueQueryStringParameters: query
        ? Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]]))
        : null,
      pathParameters: Object.keys(match.params).length > 0 ? match.params : null,
      stageVariables: null,
      body: body.length > 0 ? body : null,
      isBase64Encoded: false,
      requestContext: {
        accountId: "000000000000",
        apiId: "local",
        stage,
        requestId,
        httpMethod: method,
        path: `/${stage}${path}`,
        resourcePath: match.route.path,
        resourceId: "local",
        protocol: "HTTP/1.1",
        requestTimeEpoch: Date.now(),
        identity: { sourceIp: request.socket.remoteAddress ?? "127.0.0.1" },
        authorizer: { principalId },
      } as unknown as APIGatewayProxyEvent["requestContext"],
    };
    try {
      const result = (await options.runtime.invoke(
        match.route.functionArn,
        event,
      )) as APIGatewayProxyResult;
      response.writeHead(result.statusCode, {
        ...(result.headers as Record<string, string>),
        "x-amzn-requestid": requestId,
      });
      response.end(result.body ?? "");
    } catch (error) {
      // The invocation failed at the Lambda level (a throw past middy, a module that does not
      // load, a timeout): this request gets a 500 naming its id, and the log gets one line.
      logError(
        `stepbatch: request ${requestId} (${method} ${match.route.path}, function ${functionNameOf(match.route.functionArn)}) failed: ${oneLine(error)}`,
      );
      answerInternalError(response, requestId);
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(
              `the API cannot listen on ${host}:${options.port}: the port is already in use (pass --port, or set STEPBATCH_PORT, to use another)`,
            )
          : error,
      ),
    );
    server.listen(options.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    endpoint: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function authorize(
  runtime: LocalLambdaRuntime,
  stage: string,
  route: LocalRoute,
  method: string,
  path: string,
  headers: Record<string, string>,
  query: Record<string, string> | null,
  params: Record<string, string>,
  requestId: string,
): Promise<"unauthorized" | "denied" | { principalId: string } | Error> {
  const event = {
    type: "REQUEST",
    methodArn: `arn:aws:execute-api:us-east-1:000000000000:local/${stage}/${method}${path}`,
    resource: route.path,
    path,
    httpMethod: method,
    headers,
    queryStringParameters: query,
    pathParameters: params,
    requestContext: { requestId, stage },
  };
  try {
    const result = (await runtime.invoke(
      route.authorizerFunctionArn as string,
      event,
    )) as APIGatewayAuthorizerResult;
    const statement = result.policyDocument?.Statement?.[0] as { Effect?: string } | undefined;
    return statement?.Effect === "Allow" ? { principalId: result.principalId } : "denied";
  } catch (error) {
    // The authorizer throws "Unauthorized" for a missing token (API Gateway answers 401); any other
    // failure is the authorizer's own.
    if (error instanceof LambdaInvocationError && error.errorMessage === "Unauthorized")
      return "unauthorized";
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * `/batches/{batchId}` -> a function of the raw path (split on "/", nothing decoded or normalised)
 * returning the path parameters, each decoded, or undefined. `.` and `..` are segments like any
 * other: they fill a parameter or match nothing. One trailing slash is tolerated.
 */
function compile(template: string): (path: string) => Record<string, string> | undefined {
  const expected = template.split("/").slice(1);
  return (path) => {
    const segments = path.split("/").slice(1);
    if (segments.length === expected.length + 1 && segments.at(-1) === "") segments.pop();
    if (segments.length !== expected.length) return undefined;
    const params: Record<string, string> = {};
    for (const [i, part] of expected.entries()) {
      const segment = segments[i] ?? "";
      const name = /^\{([^}]+)\}$/.exec(part)?.[1];
      if (name === undefined) {
        if (segment !== part) return undefined;
      } else {
        if (segment === "") return undefined;
        // Like API Gateway, a malformed escape is passed on as it is (the handler then refuses the id).
        params[name] = safeDecode(segment);
      }
    }
    return params;
  };
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function headersOf(request: IncomingMessage): Record<string, string> {
  return Object.fromEntries(
    Object.entries(request.headers).map(([k, v]) => [
      k,
      Array.isArray(v) ? v.join(",") : (v ?? ""),
    ]),
  );
}

function answerInternalError(response: ServerResponse, requestId: string): void {
  send(response, 500, {
    error: { code: "INTERNAL", message: `internal error (request ${requestId})` },
  });
}

/** An error as one log line: its type and first line, never the event (headers carry the token). */
function oneLine(error: unknown): string {
  const text =
    error instanceof LambdaInvocationError
      ? `${error.errorType}: ${error.errorMessage}`
      : error instanceof Error
        ? `${error.name}: ${error.message}`
        : String(error);
  return (text.split("\n")[0] ?? "").slice(0, 300);
}

/** API Gateway's answer to a body over its payload limit. */
function tooLarge(response: ServerResponse): void {
  send(response, 413, {
    error: {
      code: "PAYLOAD_TOO_LARGE",
      message: `request body is larger than ${MAX_BODY_BYTES} bytes`,
    },
  });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  // Too late for an answer (the client left, or part of one was sent): end this connection only.
  if (response.headersSent || response.destroyed) {
    response.destroy();
    return;
  }
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

/** A function's name, from its ARN (`arn:aws:lambda:<region>:<account>:function:<name>`). */
const functionNameOf = (functionArn: string) => functionArn.split(":")[6] ?? functionArn;
