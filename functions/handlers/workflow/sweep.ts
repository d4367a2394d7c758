import { z } from "zod";
import { config } from "../../commons/config";
import { logger } from "../../commons/observability";
import { services } from "../../commons/services";
import { workflowHandler } from "../../commons/workflow-handler";

/** The scheduled event; nothing in it is needed but its shape is checked. */
const schema = z.object({}).passthrough();

/**
 * The sweep, on a schedule: a submit that stopped between recording its batch and starting its
 * execution (a crash, a timeout) left the batch queued with no execution. Start it.
 */
export const handler = workflowHandler(schema, async () => {
  const { STRANDED_AFTER_MS, SWEEP_LOOKBACK_HOURS } = config();
  const started = await services().submit.startStranded({
    olderThanMs: STRANDED_AFTER_MS,
    lookbackMs: SWEEP_LOOKBACK_HOURS * 60 * 60_000,
  });
  if (started.length > 0) logger.warn("started batches whose execution never started", { started });
  return { started };
});
