import { answer, httpHandler } from "../../commons/http.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId, batchStatusQuerySchema, parseWith } from "../../core/schemas.ts";
import { batchStatusView } from "../../views/batch.ts";

const queries = services.queries();

/** GET /batches/{batchId}?jobsOffset=&jobsLimit= */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const query = parseWith(batchStatusQuerySchema, event.queryStringParameters ?? {});
  return answer(200, batchStatusView(await queries.status(batchId, query)));
});
