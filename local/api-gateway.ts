import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
} from "aws-lambda";
import type { RunningService } from "./emulators";
import type { LocalLambdaRuntime } from "./lambda-runtime";
import type { LocalRoute } from "./template";

const STAGE = "v1";

export type LocalRoutes = (
  method: string,
  path: string,
  body: string,
  authorization: string,
) => Promise<{ status: number; body: unknown }>;
const MAX_BODY_BYTES = 10 * 1024 * 1024; // API Gateway's payload limit

/**
 * The REST API as API Gateway serves it: routes and authorizer from the template, a REQUEST
 * authorizer call per request (results are not cached), Lambda proxy events to the same handlers,
 * and API Gateway's own errors in the API's JSON error shape. Served at the root and under /v1.
 */
export async function startApiGateway(options: {
  readonly routes: readonly LocalRoute[];
  readonly runtime: LocalLambdaRuntime;
  readonly port: number;
  readonly host?: string;
  /** Local-only routes under /_local/ (like LocalStack's /_localstack/): not part of the API. */
  readonly localRoutes?: LocalRoutes;
}): Promise<RunningService & { port: number }> {
  const host = options.host ?? "127.0.0.1";
  const compiled = options.routes.map((route) => ({ route, matcher: compile(route.path) }));
  const server = createServer((request, response) => {
    void serve(request, response).catch((error) => {
      send(response, 500, {
        error: {
          code: "INTERNAL",
          message: `local API gateway error: ${(error as Error).message}`,
        },
      });
    });
  });

  const serve = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", `http://${host}`);
    const path = url.pathname.replace(new RegExp(`^/${STAGE}(?=/|$)`), "") || "/";
    const method = request.method ?? "GET";
    if (path.startsWith("/_local/") && options.localRoutes) {
      const body = (await readBody(request)) ?? "";
      const answer = await options.localRoutes(
        method,
        path,
        body,
        String(request.headers.authorization ?? ""),
      );
      send(response, answer.status, answer.body);
      return;
    }
    const found = compiled
      .map(({ route, matcher }) => ({ route, params: matcher(path) }))
      .filter((m) => m.params);
    const match = found.find((m) => m.route.method === method);
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
    if (body === undefined) {
      send(response, 413, {
        error: {
          code: "PAYLOAD_TOO_LARGE",
          message: `request body is larger than ${MAX_BODY_BYTES} bytes`,
        },
      });
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([k, v]) => [
        k,
        Array.isArray(v) ? v.join(",") : (v ?? ""),
      ]),
    );
    const query = url.searchParams.size > 0 ? Object.fromEntries(url.searchParams) : null;
    const requestId = randomUUID();
    let principalId = "anonymous";

    if (match.route.authorizerFunctionArn) {
      const verdict = await authorize(
        options.runtime,
        match.route,
        method,
        path,
        headers,
        query,
        match.params,
        requestId,
      );
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
        stage: STAGE,
        requestId,
        httpMethod: method,
        path: `/${STAGE}${path}`,
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
    } catch {
      // A handler that throws is a 502 from API Gateway.
      send(response, 502, { error: { code: "INTERNAL", message: "Internal server error" } });
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(
              `the API cannot listen on ${host}:${options.port}: the port is already in use (set STEPBATCH_PORT to use another)`,
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
  route: LocalRoute,
  method: string,
  path: string,
  headers: Record<string, string>,
  query: Record<string, string> | null,
  params: Record<string, string>,
  requestId: string,
): Promise<"unauthorized" | "denied" | { principalId: string }> {
  const event = {
    type: "REQUEST",
    methodArn: `arn:aws:execute-api:us-east-1:000000000000:local/${STAGE}/${method}${path}`,
    resource: route.path,
    path,
    httpMethod: method,
    headers,
    queryStringParameters: query,
    pathParameters: params,
    requestContext: { requestId, stage: STAGE },
  };
  try {
    const result = (await runtime.invoke(
      route.authorizerFunctionArn as string,
      event,
    )) as APIGatewayAuthorizerResult;
    const statement = result.policyDocument?.Statement?.[0] as { Effect?: string } | undefined;
    return statement?.Effect === "Allow" ? { principalId: result.principalId } : "denied";
  } catch {
    // The authorizer throws "Unauthorized" for a missing token; API Gateway answers any throw with 401.
    return "unauthorized";
  }
}

/** `/batches/{batchId}` -> a function returning the path parameters, or undefined. */
function compile(template: string): (path: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const pattern = template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  const regex = new RegExp(`^${pattern}/?$`);
  return (path) => {
    const match = regex.exec(path);
    if (!match) return undefined;
    return Object.fromEntries(names.map((name, i) => [name, safeDecode(match[i + 1] ?? "")]));
  };
}

/** Like API Gateway, a malformed escape is passed on as it is (the handler then refuses the id). */
function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
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

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}
