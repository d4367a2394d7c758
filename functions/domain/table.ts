/**
 * The one state table's shape: read by the storage construct that deploys it, the store that
 * uses it and the local stack that provisions it, so the three can never disagree.
 */
export const STATE_TABLE = {
  partitionKey: "pk",
  sortKey: "sk",
  /** Every batch, newest first: partition `BATCHES`, sort key `createdAt#batchId`. */
  listIndex: { name: "byCreatedAt", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
  /** Idempotency claims expire by this attribute (epoch seconds). */
  timeToLive: "expiresAt",
} as const;

/** The table as DynamoDB's CreateTable takes it (and DescribeTable answers it). */
export function stateTableDefinition(tableName: string) {
  const { partitionKey, sortKey, listIndex } = STATE_TABLE;
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    AttributeDefinitions: [partitionKey, sortKey, listIndex.partitionKey, listIndex.sortKey].map(
      (name) => ({ AttributeName: name, AttributeType: "S" as const }),
    ),
    KeySchema: [
      { AttributeName: partitionKey, KeyType: "HASH" as const },
      { AttributeName: sortKey, KeyType: "RANGE" as const },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: listIndex.name,
        KeySchema: [
          { AttributeName: listIndex.partitionKey, KeyType: "HASH" as const },
          { AttributeName: listIndex.sortKey, KeyType: "RANGE" as const },
        ],
        Projection: { ProjectionType: "ALL" as const },
      },
    ],
  };
}
