import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { z } from "zod";
import type { AnyPhase, PipelineDefinition } from "../../sdk/index.ts";
import { JOB_CANCELLED_METRIC, JobCancelledError } from "../core/errors.ts";
import type { PhaseRequest, PhaseResponse } from "../core/phase-runner.ts";
import { parseWith } from "../core/schemas.ts";
import { logger, metrics, observability } from "./observability.ts";
import { phaseRunner } from "./services.ts";

const phaseRequestSchema = z.object({
  batchId: z.string().min(1),
  jobId: z.string().min(1),
  phase: z.string().min(1),
  isFinal: z.boolean(),
});

/**
 * The Lambda handler of one phase of a pipeline: the phase runner around the user's phase (cancel
 * checks, AbortSignal, outputs, items and checkpoints in S3, the commit fence). The construct
 * generates one entry per phase that calls this with the phase module and the pipeline.
 */
export function phaseHandler(phase: AnyPhase, pipeline: PipelineDefinition) {
  // Built when the function is loaded (its cold start): a missing setting fails it there.
  const runner = phaseRunner(pipeline);
  return middy<PhaseRequest, PhaseResponse>()
    .use(observability())
    .handler(async (event, context: Context) => {
      const request = parseWith(phaseRequestSchema, event);
      logger.appendKeys({ batchId: request.batchId, jobId: request.jobId, phase: request.phase });
      metrics.addDimension("phase", request.phase);
      let response: PhaseResponse;
      try {
        response = await runner.run(request, phase, () => context.getRemainingTimeInMillis());
      } catch (error) {
        // The runner has recorded the failure and the state machine retries it: a warning, which
        // is what an operator sees first (CloudWatch, or the terminal of `npx stepbatch dev`).
        metrics.addMetric("Phase_failed", "Count", 1);
        logger.warn("phase failed", { error: error as Error });
        throw error;
      }
      metrics.addMetric(`Phase_${response.outcome}`, "Count", 1);
      logger.info("phase ended", { outcome: response.outcome });
      if (response.outcome === "cancelled") {
        // The state machine catches it and ends the job's iteration in "Job cancelled": no Choice
        // state after each phase, so a job that runs to its end costs one transition per phase.
        // Lambda counts it as an error; the errors alarm subtracts this metric.
        metrics.singleMetric().addMetric(JOB_CANCELLED_METRIC, "Count", 1);
        throw new JobCancelledError(
          `job ${request.jobId} was cancelled; ${request.phase} stopped`,
          {
            batchId: request.batchId,
            jobId: request.jobId,
          },
        );
      }
      return response;
    });
}
