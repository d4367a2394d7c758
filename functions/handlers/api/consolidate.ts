import { answer, httpHandler } from "../../commons/http.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId } from "../../core/schemas.ts";

const results = services.results();

/** POST /batches/{batchId}/consolidate */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  return answer(200, await results.consolidate(batchId));
});
