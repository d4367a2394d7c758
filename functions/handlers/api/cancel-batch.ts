import { actorOf, answer, httpHandler } from "../../commons/http.ts";
import { idempotentCancel } from "../../commons/idempotent-cancel.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId, cancelBodySchema, parseBody } from "../../core/schemas.ts";
import { batchCancelView, subsetCancelView } from "../../views/cancel.ts";

const cancel = services.cancel();

/** POST /batches/{batchId}/cancel: the whole batch, or the jobs named in `jobs`. */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const body = parseBody(cancelBodySchema, event.body, { required: false });
  const keyed = await idempotentCancel(event, batchId, body);
  if (keyed.replay) return answer(200, keyed.replay);
  const { jobs, ...options } = body;
  const request = { ...actorOf(event), ...options, ...keyed.id };
  return answer(
    200,
    jobs
      ? subsetCancelView(await cancel.cancelJobs(batchId, jobs, request))
      : batchCancelView(await cancel.cancelBatch(batchId, request)),
  );
});
