import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoBatchStore } from "../../functions/adapters/dynamodb/batch-store.ts";
import { STATE_TABLE } from "../../functions/adapters/dynamodb/table.ts";
import { S3OutputStore } from "../../functions/adapters/s3/output-store.ts";
import type { CancelServiceOptions } from "../../functions/core/cancel.ts";
import {
  type BatchRecord,
  countJobs,
  type JobInput,
  type JobRecord,
  type JobStatus,
} from "../../functions/core/model.ts";
import type { BatchStore } from "../../functions/core/ports.ts";
import { jobIdFor, newBatchId } from "../../functions/core/submit.ts";
import { batchTransitions } from "../../functions/core/transitions.ts";
import {
  dynamoClient,
  provisionBucket,
  provisionTable,
  s3Client,
  startDynamo,
  startS3,
} from "../../local/emulators.ts";
import { wireCore } from "./core-services.ts";
import { executionArnFor, RecordingEngine } from "./memory-ports.ts";

/** The state table as DynamoDB's CreateTable takes it: what the storage construct deploys. */
export function stateTableDefinition(tableName: string) {
  const { partitionKey, sortKey, listIndex, activeIndex } = STATE_TABLE;
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST" as const,
    AttributeDefinitions: [
      partitionKey,
      sortKey,
      listIndex.partitionKey,
      listIndex.sortKey,
      activeIndex.partitionKey,
      activeIndex.sortKey,
    ].map((name) => ({ AttributeName: name, AttributeType: "S" as const })),
    KeySchema: [
      { AttributeName: partitionKey, KeyType: "HASH" as const },
      { AttributeName: sortKey, KeyType: "RANGE" as const },
    ],
    GlobalSecondaryIndexes: [listIndex, activeIndex].map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: "HASH" as const },
        { AttributeName: index.sortKey, KeyType: "RANGE" as const },
      ],
      Projection: { ProjectionType: "ALL" as const },
    })),
  };
}

/**
 * Real DynamoDB and S3 protocols, in memory: dynalite and s3rver on free ports, with the core's
 * services wired to the adapters exactly as the handlers wire them to AWS.
 */
export async function startLocalAws(cancelOptions: Partial<CancelServiceOptions> = {}) {
  const dynamo = await startDynamo();
  const s3 = await startS3();
  const tableName = "stepbatch-test";
  const bucket = "stepbatch-test";
  const db = dynamoClient(dynamo.endpoint);
  await provisionTable(db, stateTableDefinition(tableName), {
    timeToLiveAttribute: STATE_TABLE.timeToLive,
  });
  const s3client = s3Client(s3.endpoint);
  await provisionBucket(s3client, bucket);
  const doc = DynamoDBDocumentClient.from(db, { marshallOptions: { removeUndefinedValues: true } });
  const core = wireCore(
    {
      store: new DynamoBatchStore(doc, tableName),
      outputs: new S3OutputStore(s3client, bucket),
      engine: new RecordingEngine(),
    },
    { cancel: cancelOptions },
  );
  return {
    ...core,
    /** The S3 client and bucket, for writing objects as a crash would leave them. */
    s3: s3client,
    bucket,
    close: async () => {
      await dynamo.close();
      await s3.close();
    },
  };
}

export type LocalAws = Awaited<ReturnType<typeof startLocalAws>>;

export interface SeedJob {
  readonly name: string;
  readonly status?: JobStatus;
  readonly input?: JobInput;
  readonly phase?: string;
  readonly inCommit?: boolean;
  /** What the job adds to its batch's sums, as if its phases had run. */
  readonly numbers?: Record<string, number>;
  /** What its phase last reported of its progress. */
  readonly progress?: JobRecord["progress"];
  readonly startedAt?: string;
}

/** Writes a batch and its jobs straight to the store, in the states a test needs. */
export async function seedBatch(
  aws: { store: BatchStore },
  jobs: readonly SeedJob[],
  batch: Partial<BatchRecord> = {},
): Promise<{ batch: BatchRecord; jobs: JobRecord[] }> {
  const now = new Date();
  const batchId = newBatchId(now);
  const createdAt = now.toISOString();
  const batchRecord: BatchRecord = {
    batchId,
    name: "seeded batch",
    status: "running",
    executionArn: executionArnFor(batchId),
    total: jobs.length,
    concurrency: 10,
    createdAt,
    source: { kind: "api" },
    ...batch,
  };
  const records: JobRecord[] = jobs.map((job, index) => ({
    batchId,
    jobId: jobIdFor(index),
    name: job.name,
    input: job.input ?? { pages: 4, workMs: 40 },
    status: job.status ?? "queued",
    phases: job.phase
      ? { [job.phase]: { status: "running", startedAt: createdAt, attempt: 1 } }
      : {},
    createdAt,
    ...(job.phase ? { phase: job.phase } : {}),
    ...(job.inCommit ? { inCommit: true } : {}),
    ...(job.numbers ? { numbers: job.numbers } : {}),
    ...(job.progress ? { progress: job.progress } : {}),
    ...(job.startedAt ? { startedAt: job.startedAt } : {}),
  }));
  // As submit keeps them; `jobCounts: undefined` seeds a batch from before they were kept.
  const withCounts =
    "jobCounts" in batch ? batchRecord : { ...batchRecord, jobCounts: countJobs(records) };
  await aws.store.createBatch(withCounts, records);
  return { batch: withCounts, jobs: records };
}

/** Writes a batch cancel's durable intent, and nothing else: a cancel whose caller went away. */
export async function claimBatchCancel(
  aws: { store: BatchStore },
  batchId: string,
  intent: { by: string; reason: string; requestedAt?: string },
): Promise<void> {
  const claim = await aws.store.transitionBatch(
    batchId,
    batchTransitions.claimCancel({
      requestedAt: intent.requestedAt ?? new Date().toISOString(),
      by: intent.by,
      reason: intent.reason,
      scope: "batch",
    }),
  );
  if (!claim.won) throw new Error(`batch ${batchId} could not be given a cancel intent`);
}
