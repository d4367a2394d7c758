import { z } from "zod";
import { logger } from "../../commons/observability.ts";
import { services } from "../../commons/services.ts";
import { taskHandler } from "../../commons/task-handler.ts";
import type { BatchQuiesced } from "../../core/quiesce.ts";

const notifier = services.webhooks();

/** The "Batch Quiesced" event as EventBridge delivers it. */
const schema = z.object({
  detail: z.looseObject({ batchId: z.string().min(1) }),
});

/**
 * The EventBridge rule's target for "Batch Quiesced": posts the event to the webhook its batch was
 * given at submit, signed, retrying with backoff. A receiver that never accepts it is recorded in
 * the batch's audit trail (the URL without its query; never the secret).
 */
export const handler = taskHandler("NotifyWebhook", schema, async ({ detail }) => {
  const delivery = await notifier.quiesced(detail as unknown as BatchQuiesced);
  if (delivery.outcome === "failed")
    logger.warn("a batch's webhook did not accept its notice", { ...delivery });
  return delivery;
});
