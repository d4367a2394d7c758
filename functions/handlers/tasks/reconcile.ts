import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import middy from "@middy/core";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";
import { logger } from "../../commons/observability.ts";
import { services } from "../../commons/services.ts";
import { taskMiddleware } from "../../commons/task-handler.ts";
import { EXECUTION_STATUSES, STATUS_CHANGE_DETAIL_TYPE } from "../../core/execution.ts";
import { parseWith } from "../../core/schemas.ts";

const reconciler = services.reconciler();

/** The EventBridge event, as the SQS queue delivers it in each record's body. */
const statusChangeSchema = z.object({
  "detail-type": z.literal(STATUS_CHANGE_DETAIL_TYPE),
  detail: z.object({
    executionArn: z.string(),
    name: z.string(),
    status: z.enum(EXECUTION_STATUSES),
    stopDate: z.number().nullish(),
    error: z.string().nullish(),
    cause: z.string().nullish(),
  }),
});

const processor = new BatchProcessor(EventType.SQS);

async function reconcileRecord(record: SQSRecord) {
  const event = parseWith(statusChangeSchema, JSON.parse(record.body));
  const result = await reconciler.reconcile(event.detail);
  logger.info("execution reconciled", { ...result });
}

/** Reads execution status changes from SQS; a record that fails goes back to the queue (then the DLQ). */
export const handler = middy<SQSEvent>()
  .use(taskMiddleware("Reconcile"))
  .handler((event, context) =>
    processPartialResponse(event, reconcileRecord, processor, { context }),
  );
