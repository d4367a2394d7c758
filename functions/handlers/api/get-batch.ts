import { answer, httpHandler } from "../../commons/http";
import { services } from "../../commons/services";
import { assertBatchId, batchStatusQuerySchema, parseWith } from "../../domain/schemas";

/** GET /batches/{batchId}?jobsOffset=&jobsLimit= */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const query = parseWith(batchStatusQuerySchema, event.queryStringParameters ?? {});
  return answer(200, await services().queries.status(batchId, query));
});
