import { z } from "zod";
import { config } from "../../commons/config.ts";
import { logger } from "../../commons/observability.ts";
import { services } from "../../commons/services.ts";
import { taskHandler } from "../../commons/task-handler.ts";

const sweeper = services.sweeper();

/** The scheduled event; nothing in it is needed but its shape is checked. */
const schema = z.object({}).passthrough();

/**
 * The sweep, on a schedule: starts batches whose submit stopped before starting their execution,
 * and reconciles batches whose cancel stopped half-way with no status change left to come.
 */
export const handler = taskHandler("Sweep", schema, async () => {
  const { STRANDED_AFTER_MS, SWEEP_LOOKBACK_HOURS } = config();
  const result = await sweeper.sweep({
    olderThanMs: STRANDED_AFTER_MS,
    lookbackMs: SWEEP_LOOKBACK_HOURS * 60 * 60_000,
  });
  if (result.started.length + result.reconciled.length > 0)
    logger.warn("the sweep repaired batches a crash left half-done", { ...result });
  return result;
});
