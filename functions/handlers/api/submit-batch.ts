import type { AnyPhase, PipelineDefinition } from "../../../sdk/index.ts";
import { answer, headerOf, httpHandler } from "../../commons/http.ts";
import { pipelineSubmit } from "../../commons/services.ts";
import { assertIdempotencyKey, parseBody, submitBatchSchema } from "../../core/schemas.ts";

/**
 * POST /batches, for a pipeline: the construct generates this function's entry, which passes the
 * pipeline and its phases so job inputs are checked against their schemas.
 */
export function submitHandler(pipeline: PipelineDefinition, phases: readonly AnyPhase[]) {
  const submit = pipelineSubmit(pipeline, phases);
  return httpHandler(async (event) => {
    const body = parseBody(submitBatchSchema, event.body);
    const idempotencyKey = assertIdempotencyKey(headerOf(event, "idempotency-key"));
    const result = await submit.submit(body, idempotencyKey ? { idempotencyKey } : {});
    // A replay answers exactly as the first request did.
    return answer(202, result);
  });
}
