import type { APIGatewayProxyEvent } from "aws-lambda";
import { CancellationNotFoundError } from "../core/errors.ts";
import { assertIdempotencyKey } from "../core/schemas.ts";
import { receiptView } from "../views/receipt.ts";
import { headerOf } from "./http.ts";
import { services } from "./services.ts";

/**
 * With an Idempotency-Key: a repeat of an earlier cancel answers with that cancel's receipt; a
 * first use (or a repeat whose first request died before keeping its receipt) cancels, with the
 * cancellationId the key holds.
 */
export async function idempotentCancel(
  event: APIGatewayProxyEvent,
  batchId: string,
  body: unknown,
): Promise<{ replay?: unknown; id?: { cancellationId: string } }> {
  const key = assertIdempotencyKey(headerOf(event, "idempotency-key"));
  if (!key) return {};
  const claim = await services.cancel().claimIdempotencyKey(batchId, key, body);
  if (claim.replay) {
    try {
      const earlier = await services.receipts().receipt(batchId, claim.cancellationId);
      return { replay: { idempotentReplay: true, ...receiptView(earlier) } };
    } catch (error) {
      if (!(error instanceof CancellationNotFoundError)) throw error;
    }
  }
  return { id: { cancellationId: claim.cancellationId } };
}
