import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { z } from "zod";
import { parseWith } from "../core/schemas.ts";
import { logger, tracer } from "./observability.ts";

/** The pipeline for the state machine's own steps (not phases): validated input, logs, tracing. */
export function workflowHandler<S extends z.ZodType, R>(
  schema: S,
  fn: (input: z.infer<S>) => Promise<R>,
) {
  return middy<unknown, R>()
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => fn(parseWith(schema, event)));
}
