/** What GET /batches/{batchId}/cancellations/{cancellationId} answers. */
import type { JobReceipt, ReceiptOutcome, Receipts } from "../core/receipts.ts";

type ReceiptRead = Awaited<ReturnType<Receipts["receipt"]>>;

export function receiptView(read: ReceiptRead) {
  const counts: Partial<Record<ReceiptOutcome, number>> = {};
  for (const { outcome } of read.outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
  return {
    ...read.cancellation,
    jobs: read.outcomes satisfies readonly JobReceipt[],
    /** Outcomes on this page, by kind. */
    counts,
    /** Jobs on this page still settling; 0 on every page once the cancel has fully taken effect. */
    pending: counts.pending ?? 0,
    nextCursor: read.nextCursor,
  };
}
