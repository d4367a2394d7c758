import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { z } from "zod";
import type { PhaseRequest, PhaseResponse, PhaseWork } from "../domain/phase-runner";
import { parseWith } from "../domain/schemas";
import { logger, metrics, tracer } from "./observability";
import { services } from "./services";

const phaseRequestSchema = z.object({
  batchId: z.string().min(1),
  jobId: z.string().min(1),
  phase: z.string().min(1),
  isFinal: z.boolean(),
});

/** Wraps a phase's work in the phase runner: cancel checks, AbortSignal, S3 outputs, commit fence. */
export function phaseHandler(work: PhaseWork) {
  return middy<PhaseRequest, PhaseResponse>()
    .use(captureLambdaHandler(tracer))
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event, context: Context) => {
      const request = parseWith(phaseRequestSchema, event);
      logger.appendKeys({ batchId: request.batchId, jobId: request.jobId, phase: request.phase });
      const response = await services().phases.run(request, work, () =>
        context.getRemainingTimeInMillis(),
      );
      metrics.addDimension("phase", request.phase);
      metrics.addMetric(`Phase_${response.outcome}`, "Count", 1);
      logger.info("phase ended", { outcome: response.outcome });
      return response;
    });
}
