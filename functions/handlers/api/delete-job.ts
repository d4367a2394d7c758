import { answer, httpHandler } from "../../commons/http";
import { services } from "../../commons/services";
import { assertBatchId, assertJobId } from "../../domain/schemas";

/** DELETE /batches/{batchId}/jobs/{jobId}: only a finished job's record. */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const jobId = assertJobId(batchId, event.pathParameters?.jobId);
  return answer(200, await services().queries.deleteJob(batchId, jobId));
});
