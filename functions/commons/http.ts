import { MetricUnit } from "@aws-lambda-powertools/metrics";
import middy, { type MiddlewareObj } from "@middy/core";
import httpHeaderNormalizer from "@middy/http-header-normalizer";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { StepbatchError } from "../core/errors.ts";
import { logger, metrics, observability } from "./observability.ts";

export interface HttpAnswer {
  readonly statusCode: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

export const answer = (
  statusCode: number,
  body: unknown,
  headers?: Record<string, string>,
): HttpAnswer => ({
  statusCode,
  body,
  ...(headers ? { headers } : {}),
});

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

function toResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** Counts every answer by status class (Response2xx, Response4xx, Response5xx) as a metric. */
function countResponse(status: number): void {
  metrics.addMetric(`Response${Math.floor(status / 100)}xx`, MetricUnit.Count, 1);
}

/** Turns every error into `{"error": {"code", "message"}}` with the right status, and counts answers. */
const jsonErrors = (): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> => ({
  after: async (request) => {
    if (request.response) countResponse(request.response.statusCode);
  },
  onError: async (request) => {
    const error = request.error as (Error & { statusCode?: number; expose?: boolean }) | null;
    if (!error) return;
    // The error carries its status, as middy's HttpError does.
    if (error instanceof StepbatchError && error.expose) {
      const status = error.statusCode;
      logger.info("request refused", { code: error.code, status, message: error.message });
      countResponse(status);
      request.response = toResponse(status, {
        error: {
          code: error.code,
          message: error.message,
          ...(error.details ? { details: error.details } : {}),
        },
      });
      return;
    }
    if (error.statusCode && error.statusCode < 500 && error.expose !== false) {
      countResponse(error.statusCode);
      request.response = toResponse(error.statusCode, {
        error: { code: "BAD_REQUEST", message: error.message },
      });
      return;
    }
    logger.error("request failed", { error });
    const requestId = request.context?.awsRequestId ?? "unknown";
    countResponse(500);
    request.response = toResponse(500, {
      error: { code: "INTERNAL", message: `internal error (request ${requestId})` },
    });
  },
});

/** The middy pipeline shared by every API handler: tracing, structured logs, metrics, JSON errors. */
export function httpHandler(fn: (event: APIGatewayProxyEvent) => Promise<HttpAnswer>) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(observability())
    .use(httpHeaderNormalizer())
    .use(jsonErrors())
    .handler(async (event) => {
      const result = await fn(event);
      return toResponse(result.statusCode, result.body, result.headers);
    });
}

/**
 * Who is asking, for the audit trail: `by` is the principal the authorizer vouched for, never what
 * the caller says; what the caller says (the CLI sends user@host in X-Stepbatch-Actor) is kept as
 * `claimedBy`, so nobody can pass for stepbatch itself (system, console, schedules).
 */
export function actorOf(event: APIGatewayProxyEvent): { by: string; claimedBy?: string } {
  const principal = event.requestContext?.authorizer?.principalId as string | undefined;
  const by = clean(principal) || "api";
  const claimedBy = clean(event.headers?.["x-stepbatch-actor"]);
  return claimedBy ? { by, claimedBy } : { by };
}

const clean = (value: string | undefined | null) =>
  (value ?? "").replace(/[^\w.@:+-]/g, "").slice(0, 100);

export function headerOf(event: APIGatewayProxyEvent, name: string): string | undefined {
  const value = event.headers?.[name.toLowerCase()];
  return value === undefined || value === null ? undefined : value;
}
