import { MetricUnit } from "@aws-lambda-powertools/metrics";
import middy, { type MiddlewareObj } from "@middy/core";
import type { z } from "zod";
import { parseWith } from "../core/schemas.ts";
import { metrics, observability } from "./observability.ts";

/** Counts each invocation of a task as TaskSucceeded or TaskFailed, with the task's name. */
function countOutcome(task: string): MiddlewareObj {
  return {
    before: async () => {
      metrics.addDimension("task", task);
    },
    after: async () => {
      metrics.addMetric("TaskSucceeded", MetricUnit.Count, 1);
    },
    onError: async () => {
      metrics.addMetric("TaskFailed", MetricUnit.Count, 1);
    },
  };
}

/**
 * What every function that is not an API route or a phase wears (the state machine's own steps,
 * the reconciler, the sweep, the scheduler's target): tracing, structured logs, and metrics.
 */
export const taskMiddleware = (task: string): MiddlewareObj[] => [
  ...observability(),
  countOutcome(task),
];

/** A task whose input is one event, validated by `schema`. */
export function taskHandler<S extends z.ZodType, R>(
  task: string,
  schema: S,
  fn: (input: z.infer<S>) => Promise<R>,
) {
  return middy<unknown, R>()
    .use(taskMiddleware(task))
    .handler(async (event) => fn(parseWith(schema, event)));
}
