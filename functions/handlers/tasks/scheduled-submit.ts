import type { AnyPhase, PipelineDefinition } from "../../../sdk/index.ts";
import { pipelineSubmit } from "../../commons/services.ts";
import { taskHandler } from "../../commons/task-handler.ts";
import { scheduledStartSchema } from "../../core/schedules.ts";

/**
 * The EventBridge Scheduler target: starts a schedule's batch through the same submit path as
 * POST /batches. The idempotency key is the schedule and its scheduled time, so a retried
 * delivery of one occurrence never starts a second batch. Its entry is generated per pipeline.
 */
export function scheduledSubmitHandler(pipeline: PipelineDefinition, phases: readonly AnyPhase[]) {
  const submit = pipelineSubmit(pipeline, phases);
  return taskHandler(
    "ScheduledSubmit",
    scheduledStartSchema,
    ({ scheduleName, scheduledTime, batch }) =>
      submit.submit(batch, {
        idempotencyKey: `schedule:${scheduleName}:${scheduledTime}`
          .replace(/[^\w.:-]/g, "_")
          .slice(0, 128),
        source: { kind: "schedule", scheduleName, scheduledTime },
      }),
  );
}
