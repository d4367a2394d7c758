import { answer, headerOf, httpHandler } from "../../commons/http";
import { services } from "../../commons/services";
import { ValidationError } from "../../domain/errors";
import { parseBody, submitBatchSchema } from "../../domain/schemas";

/** POST /batches */
export const handler = httpHandler(async (event) => {
  const body = parseBody(submitBatchSchema, event.body);
  const idempotencyKey = headerOf(event, "idempotency-key");
  if (idempotencyKey !== undefined && !/^[\w.:-]{1,128}$/.test(idempotencyKey)) {
    throw new ValidationError(
      "Idempotency-Key must be 1 to 128 letters, digits, '.', ':', '_' or '-'",
    );
  }
  const result = await services().submit.submit(body, idempotencyKey ? { idempotencyKey } : {});
  // A replay answers exactly as the first request did.
  return answer(202, result);
});
