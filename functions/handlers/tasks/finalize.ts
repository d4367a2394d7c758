import { z } from "zod";
import { services } from "../../commons/services.ts";
import { taskHandler } from "../../commons/task-handler.ts";

const completion = services.completion();

/** "Finalize batch": sets the final status and consolidates the results. */
export const handler = taskHandler(
  "FinalizeBatch",
  z.object({ batchId: z.string().min(1) }),
  ({ batchId }) => completion.finalize(batchId),
);
