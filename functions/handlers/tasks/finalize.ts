import { z } from "zod";
import { services } from "../../commons/services.ts";
import { workflowHandler } from "../../commons/task-handler.ts";

/** "Finalize batch": sets the final status and consolidates the results. */
export const handler = workflowHandler(z.object({ batchId: z.string().min(1) }), ({ batchId }) =>
  services().workflow.finalize(batchId),
);
