import { actorOf, answer, httpHandler } from "../../commons/http.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId, cancelBodySchema, parseBody } from "../../core/schemas.ts";

/** POST /batches/{batchId}/cancel: the whole batch, or the jobs named in `jobs`. */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const body = parseBody(cancelBodySchema, event.body, { required: false });
  const request = { ...actorOf(event), ...(body.reason ? { reason: body.reason } : {}) };
  const { cancel } = services();
  const result = body.jobs
    ? await cancel.cancelJobs(batchId, body.jobs, request)
    : await cancel.cancelBatch(batchId, request);
  return answer(200, result);
});
