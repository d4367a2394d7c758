import { actorOf, answer, httpHandler } from "../../commons/http.ts";
import { idempotentCancel } from "../../commons/idempotent-cancel.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId, assertJobId, cancelJobBodySchema, parseBody } from "../../core/schemas.ts";
import { jobCancelView } from "../../views/cancel.ts";

const cancel = services.cancel();

/** POST /batches/{batchId}/jobs/{jobId}/cancel */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const jobId = assertJobId(batchId, event.pathParameters?.jobId);
  const body = parseBody(cancelJobBodySchema, event.body, { required: false });
  const keyed = await idempotentCancel(event, batchId, { jobId, ...body });
  if (keyed.replay) return answer(200, keyed.replay);
  const request = { ...actorOf(event), ...body, ...keyed.id };
  return answer(200, jobCancelView(await cancel.cancelJob(batchId, jobId, request)));
});
