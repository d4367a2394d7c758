import { answer, httpHandler } from "../../commons/http";
import { services } from "../../commons/services";
import { assertBatchId, parseWith, resultsQuerySchema } from "../../domain/schemas";

/** GET /batches/{batchId}/results?limit=&cursor=&items= */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const query = parseWith(resultsQuerySchema, event.queryStringParameters ?? {});
  return answer(200, await services().results.resultsOf(batchId, query));
});
