/**
 * The one state table's shape: read by the storage construct that deploys it and the store that
 * uses it, so the two can never disagree (the local stack provisions it from the template).
 */
export const STATE_TABLE = {
  partitionKey: "pk",
  sortKey: "sk",
  /** Every batch, newest first: partition `BATCHES`, sort key `createdAt#batchId`. */
  listIndex: { name: "byCreatedAt", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
  /**
   * A batch's jobs that have not ended (a sparse index: a job leaves it when it ends), partition
   * `activeOf` = its batch id, sort key `<status>#<jobId>`: its running jobs, or a few queued ones,
   * read without reading every job.
   */
  activeIndex: { name: "activeJobs", partitionKey: "activeOf", sortKey: "activeKey" },
  /** Idempotency claims expire by this attribute (epoch seconds). */
  timeToLive: "expiresAt",
} as const;
