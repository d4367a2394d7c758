import { answer, httpHandler } from "../../commons/http.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId, assertJobId } from "../../core/schemas.ts";
import { jobView } from "../../views/batch.ts";

const queries = services.queries();

/** GET /batches/{batchId}/jobs/{jobId} */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const jobId = assertJobId(batchId, event.pathParameters?.jobId);
  return answer(200, jobView(await queries.job(batchId, jobId)));
});
