import { answer, httpHandler } from "../../commons/http.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId, parseWith, resultsQuerySchema } from "../../core/schemas.ts";

const results = services.results();

/** GET /batches/{batchId}/results?limit=&cursor=&items= */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const query = parseWith(resultsQuerySchema, event.queryStringParameters ?? {});
  return answer(200, await results.page(batchId, query));
});
