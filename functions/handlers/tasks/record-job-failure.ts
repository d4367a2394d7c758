import { z } from "zod";
import { services } from "../../commons/services.ts";
import { workflowHandler } from "../../commons/task-handler.ts";

const schema = z.object({
  batchId: z.string().min(1),
  jobId: z.string().min(1),
  failure: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).default({}),
});

/** "Record job failure": a job whose phase kept failing ends as failed; the batch goes on. */
export const handler = workflowHandler(schema, ({ batchId, jobId, failure }) =>
  services().workflow.recordJobFailure(
    batchId,
    jobId,
    failure.Error ?? "States.TaskFailed",
    failure.Cause ?? "",
  ),
);
