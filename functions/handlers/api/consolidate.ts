import { answer, httpHandler } from "../../commons/http";
import { services } from "../../commons/services";
import { assertBatchId } from "../../domain/schemas";

/** POST /batches/{batchId}/consolidate */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  return answer(200, await services().results.consolidate(batchId));
});
