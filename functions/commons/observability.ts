import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";

/** One logger, metrics and tracer per function instance (Powertools reads POWERTOOLS_* settings). */
export const logger = new Logger({ serviceName: "stepbatch" });
export const metrics = new Metrics({ namespace: "stepbatch", serviceName: "stepbatch" });
export const tracer = new Tracer({ serviceName: "stepbatch" });
