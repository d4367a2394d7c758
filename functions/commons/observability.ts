import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";

/** One logger, metrics and tracer per function instance (Powertools reads POWERTOOLS_* settings). */
export const logger = new Logger({ serviceName: "stepbatch" });
// Metrics warn through the logger, so their warnings follow POWERTOOLS_LOG_LEVEL like every log line.
export const metrics = new Metrics({ namespace: "stepbatch", serviceName: "stepbatch", logger });
export const tracer = new Tracer({ serviceName: "stepbatch" });
