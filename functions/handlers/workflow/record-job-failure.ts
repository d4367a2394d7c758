import { z } from "zod";
import { services } from "../../commons/services";
import { workflowHandler } from "../../commons/workflow-handler";

const schema = z.object({
  batchId: z.string().min(1),
  jobId: z.string().min(1),
  error: z.string().default("States.TaskFailed"),
  cause: z.string().default(""),
});

/** "Record job failure": a job whose phase kept failing ends as failed; the batch goes on. */
export const handler = workflowHandler(schema, ({ batchId, jobId, error, cause }) =>
  services().workflow.recordJobFailure(batchId, jobId, error, cause),
);
