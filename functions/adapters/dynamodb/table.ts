/**
 * The one state table's shape: read by the storage construct that deploys it and the store that
 * uses it, so the two can never disagree (the local stack provisions it from the template).
 */
export const STATE_TABLE = {
  partitionKey: "pk",
  sortKey: "sk",
  /** Every batch, newest first: partition `BATCHES`, sort key `createdAt#batchId`. */
  listIndex: { name: "byCreatedAt", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
  /** Idempotency claims expire by this attribute (epoch seconds). */
  timeToLive: "expiresAt",
} as const;
