import { answer, httpHandler } from "../../commons/http.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId, assertJobId } from "../../core/schemas.ts";
import { deletedJobView } from "../../views/batch.ts";

const queries = services.queries();

/** DELETE /batches/{batchId}/jobs/{jobId}: only a finished job's record. */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const jobId = assertJobId(batchId, event.pathParameters?.jobId);
  return answer(200, deletedJobView(await queries.deleteJob(batchId, jobId)));
});
