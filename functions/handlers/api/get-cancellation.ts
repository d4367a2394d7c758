import { answer, httpHandler } from "../../commons/http.ts";
import { services } from "../../commons/services.ts";
import {
  assertBatchId,
  assertCancellationId,
  parseWith,
  receiptQuerySchema,
} from "../../core/schemas.ts";
import { receiptView } from "../../views/receipt.ts";

const receipts = services.receipts();

/** GET /batches/{batchId}/cancellations/{cancellationId}?limit=&cursor= */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const cancellationId = assertCancellationId(batchId, event.pathParameters?.cancellationId);
  const query = parseWith(receiptQuerySchema, event.queryStringParameters ?? {});
  return answer(200, receiptView(await receipts.receipt(batchId, cancellationId, query)));
});
