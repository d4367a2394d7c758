import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { BatchStore } from "../../functions/adapters/dynamodb/batch-store.ts";
import { CancelService, type CancelServiceOptions } from "../../functions/core/cancel.ts";
import type { BatchRecord, JobInput, JobRecord, JobStatus } from "../../functions/core/model.ts";
import { PhaseRunner } from "../../functions/core/phase-runner.ts";
import type { WorkflowPort } from "../../functions/core/ports.ts";
import { BatchQueries } from "../../functions/core/queries.ts";
import { type ExecutionStatusChange, Reconciler } from "../../functions/core/reconcile.ts";
import { ResultStore } from "../../functions/adapters/s3/output-store.ts";
import { ResultsService } from "../../functions/core/results-service.ts";
import { jobIdFor, newBatchId, SubmitService } from "../../functions/core/submit.ts";
import { Sweeper } from "../../functions/core/sweep.ts";
import { STATE_TABLE } from "../../functions/adapters/dynamodb/table.ts";
import { WorkflowService } from "../../functions/core/completion.ts";
import {
  dynamoClient,
  provisionBucket,
  provisionTable,
  s3Client,
  startDynamo,
  startS3,
} from "../../local/emulators.ts";
import { demoPhase } from "../../pipelines/demo/work.ts";
import demo from "../../stepbatch.config.ts";

/** The state table as DynamoDB's CreateTable takes it: what the storage construct deploys. */
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

/** A Step Functions port that records what the domain asked of it. */
export class RecordingWorkflow implements WorkflowPort {
  readonly started: { name: string; input: unknown }[] = [];
  readonly stopped: { executionArn: string; error: string; cause: string }[] = [];
  failNextStart?: Error;

  async startExecution(name: string, input: unknown): Promise<string> {
    if (this.failNextStart) {
      const error = this.failNextStart;
      this.failNextStart = undefined;
      throw error;
    }
    // As on AWS, an execution name is started once; starting it again is not an error.
    if (!this.started.some((s) => s.name === name)) this.started.push({ name, input });
    return executionArnFor(name);
  }

  /** Ended executions, by ARN, as a test sets them. */
  readonly ended = new Map<string, ExecutionStatusChange>();

  async describeExecution(executionArn: string): Promise<ExecutionStatusChange | undefined> {
    const ended = this.ended.get(executionArn);
    if (ended) return ended;
    const started = this.started.find((s) => executionArnFor(s.name) === executionArn);
    return started ? { executionArn, name: started.name, status: "RUNNING" } : undefined;
  }

  async stopExecution(executionArn: string, error: string, cause: string): Promise<void> {
    this.stopped.push({ executionArn, error, cause });
  }
}

export const executionArnFor = (name: string) =>
  `arn:aws:states:us-east-1:123456789012:execution:test:${name}`;

/**
 * Real DynamoDB and S3 protocols, in memory: dynalite and s3rver on free ports, with the domain
 * services wired to them exactly as the handlers wire them to AWS.
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
  const store = new BatchStore(doc, tableName);
  const resultStore = new ResultStore(s3client, bucket);
  const results = new ResultsService(store, resultStore, {
    summaryFields: demo.summary?.fields ?? {},
  });
  const workflow = new RecordingWorkflow();
  const workflowService = new WorkflowService(store, results);
  const reconciler = new Reconciler(store, workflowService, results);
  return {
    /** The S3 client and bucket, for writing objects as a crash would leave them. */
    s3: s3client,
    bucket,
    store,
    resultStore,
    results,
    workflow,
    queries: new BatchQueries(store),
    submit: new SubmitService(store, workflow, executionArnFor),
    cancel: new CancelService(store, workflow, results, {
      markConcurrency: 8,
      settleMs: 2_000,
      manifestThreshold: 100,
      ...cancelOptions,
    }),
    workflowService,
    reconciler,
    sweeper: new Sweeper(store, workflow, reconciler),
    /** The phase runner of the demo pipeline, and its phases. */
    runner: new PhaseRunner(
      store,
      resultStore,
      {
        phases: demo.phases.map((phase) => phase.name),
        ...(demo.summary ? { summary: demo.summary } : {}),
      },
      { pollMs: 50, timeoutMarginMs: 0, progressEveryMs: 0 },
    ),
    phases: {
      Ingest: demoPhase("Ingest"),
      Digest: demoPhase("Digest"),
      Commit: demoPhase("Commit"),
    },
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
}

/** Writes a batch and its jobs straight to the store, in the states a test needs. */
export async function seedBatch(
  aws: LocalAws,
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
  }));
  await aws.store.createBatch(batchRecord, records);
  return { batch: batchRecord, jobs: records };
}
