import { answer, httpHandler } from "../../commons/http";
import { services } from "../../commons/services";
import { assertBatchId, assertJobId } from "../../domain/schemas";

/** GET /batches/{batchId}/jobs/{jobId} */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const jobId = assertJobId(batchId, event.pathParameters?.jobId);
  return answer(200, await services().queries.job(batchId, jobId));
});
