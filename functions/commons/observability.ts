import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { Tracer } from "@aws-lambda-powertools/tracer";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import type { MiddlewareObj } from "@middy/core";

/** One logger, metrics and tracer per function instance (Powertools reads POWERTOOLS_* settings). */
export const logger = new Logger({ serviceName: "stepbatch" });
// Metrics warn through the logger, so their warnings follow POWERTOOLS_LOG_LEVEL like every log line.
export const metrics = new Metrics({ namespace: "stepbatch", serviceName: "stepbatch", logger });
export const tracer = new Tracer({ serviceName: "stepbatch" });

/**
 * What every stepbatch function wears first: tracing, structured logs with the Lambda context, and
 * metrics published at the end of each invocation. Events are never logged, whatever
 * POWERTOOLS_LOGGER_LOG_EVENT says: an API's carry the token.
 */
export const observability = (): MiddlewareObj[] => [
  captureLambdaHandler(tracer),
  injectLambdaContext(logger, { resetKeys: true, logEvent: false }),
  logMetrics(metrics),
];
