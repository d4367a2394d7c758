import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";

/** A Lambda context like the one the runtime passes, with a remaining-time clock. */
export function lambdaContext(timeoutMs = 30_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "stepbatch-test",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:stepbatch-test",
    memoryLimitInMB: "512",
    awsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    logGroupName: "/aws/lambda/stepbatch-test",
    logStreamName: "test",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface ApiRequest {
  readonly method?: string;
  readonly path?: string;
  readonly pathParameters?: Record<string, string>;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

/** An API Gateway REST proxy event; a non-string body is sent as JSON. */
export function apiEvent(request: ApiRequest = {}): APIGatewayProxyEvent {
  return {
    httpMethod: request.method ?? "GET",
    path: request.path ?? "/",
    resource: request.path ?? "/",
    pathParameters: request.pathParameters ?? null,
    queryStringParameters: request.query ?? null,
    multiValueQueryStringParameters: null,
    headers: { "Content-Type": "application/json", ...request.headers },
    multiValueHeaders: {},
    body:
      request.body === undefined
        ? null
        : typeof request.body === "string"
          ? request.body
          : JSON.stringify(request.body),
    isBase64Encoded: false,
    stageVariables: null,
    requestContext: {
      authorizer: { principalId: "operator" },
    } as unknown as APIGatewayProxyEvent["requestContext"],
  };
}

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** Calls an API handler and parses its JSON answer. */
export async function call(handler: Handler, request: ApiRequest = {}) {
  const result = await handler(apiEvent(request), lambdaContext());
  return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, any> };
}
