import { z } from "zod";
import { services } from "../../commons/services.ts";
import { taskHandler } from "../../commons/task-handler.ts";
import { ERROR_NAMES } from "../../core/errors.ts";

const completion = services.completion();

const schema = z.object({
  batchId: z.string().min(1),
  jobId: z.string().min(1),
  failure: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).default({}),
});

/** "Record job failure": a job whose phase kept failing ends as failed; the batch goes on. */
export const handler = taskHandler("RecordJobFailure", schema, ({ batchId, jobId, failure }) =>
  completion.recordJobFailure(
    batchId,
    jobId,
    failure.Error ?? ERROR_NAMES.statesTaskFailed,
    failure.Cause ?? "",
  ),
);
