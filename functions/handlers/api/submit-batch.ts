import type { AnyPhase, PipelineDefinition } from "../../../sdk/index.ts";
import { answer, headerOf, httpHandler } from "../../commons/http.ts";
import { pipelineSubmit } from "../../commons/services.ts";
import { ValidationError } from "../../core/errors.ts";
import { parseBody, submitBatchSchema } from "../../core/schemas.ts";

/**
 * POST /batches, for a pipeline: the construct generates this function's entry, which passes the
 * pipeline and its phases so job inputs are checked against their schemas.
 */
export function submitHandler(pipeline: PipelineDefinition, phases: readonly AnyPhase[]) {
  const submit = pipelineSubmit(pipeline, phases);
  return httpHandler(async (event) => {
    const body = parseBody(submitBatchSchema, event.body);
    const idempotencyKey = headerOf(event, "idempotency-key");
    if (idempotencyKey !== undefined && !/^[\w.:-]{1,128}$/.test(idempotencyKey)) {
      throw new ValidationError(
        "Idempotency-Key must be 1 to 128 letters, digits, '.', ':', '_' or '-'",
      );
    }
    const result = await submit.submit(body, idempotencyKey ? { idempotencyKey } : {});
    // A replay answers exactly as the first request did.
    return answer(202, result);
  });
}
