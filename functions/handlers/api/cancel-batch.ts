import { actorOf, answer, httpHandler } from "../../commons/http.ts";
import { idempotentCancel } from "../../commons/idempotent-cancel.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId, cancelBodySchema, parseBody } from "../../core/schemas.ts";
import { batchCancelView, subsetCancelView } from "../../views/cancel.ts";

const cancel = services.cancel();

/**
 * POST /batches/{batchId}/cancel: the whole batch; the jobs named in `jobs`; the jobs a `filter`
 * chooses (previewed with `dryRun`, then cancelled as previewed with the `confirmToken`).
 */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const body = parseBody(cancelBodySchema, event.body, { required: false });
  const { jobs, filter, dryRun, confirmToken, ...options } = body;
  // A preview changes nothing: it needs no Idempotency-Key.
  if (dryRun && filter) return answer(200, await cancel.previewSelection(batchId, filter));
  const keyed = await idempotentCancel(event, batchId, body);
  if (keyed.replay) return answer(200, keyed.replay);
  const request = { ...actorOf(event), ...options, ...keyed.id };
  if (confirmToken)
    return answer(
      200,
      subsetCancelView(await cancel.cancelSelection(batchId, confirmToken, request)),
    );
  if (filter)
    return answer(200, subsetCancelView(await cancel.cancelMatching(batchId, filter, request)));
  if (jobs) return answer(200, subsetCancelView(await cancel.cancelJobs(batchId, jobs, request)));
  return answer(200, batchCancelView(await cancel.cancelBatch(batchId, request)));
});
