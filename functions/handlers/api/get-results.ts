import { answer, httpHandler } from "../../commons/http";
import { services } from "../../commons/services";
import { assertBatchId } from "../../domain/schemas";

/** GET /batches/{batchId}/results */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  return answer(200, await services().results.resultsOf(batchId));
});
