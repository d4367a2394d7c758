import { answer, httpHandler } from "../../commons/http.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId, assertJobId, jobOutputQuerySchema, parseWith } from "../../core/schemas.ts";

const results = services.results();

/** GET /batches/{batchId}/jobs/{jobId}/output?phase=&itemsOffset=&items= */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const jobId = assertJobId(batchId, event.pathParameters?.jobId);
  const query = parseWith(jobOutputQuerySchema, event.queryStringParameters ?? {});
  return answer(200, await results.jobOutput(batchId, jobId, query));
});
