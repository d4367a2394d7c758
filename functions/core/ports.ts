/**
 * What the core needs from the outside world, and nothing more. The adapters (functions/adapters)
 * implement these with DynamoDB, S3, Step Functions and SQS; the tests' in-memory stores
 * (test/helpers/memory-ports.ts) implement them in plain objects.
 */
import type { ExecutionStatusChange } from "./execution.ts";
import type {
  AuditEntry,
  BatchRecord,
  BatchStatus,
  CancelIntent,
  CancelSavings,
  JobCounts,
  JobRecord,
} from "./model.ts";
import type { BatchQuiesced } from "./quiesce.ts";
import type { CancellationRecord } from "./receipts.ts";
import type { PhaseOutputDocument, SavedCheckpoint } from "./results.ts";
import type { SelectionRecord } from "./selection.ts";
import type { BatchTransition, JobTransition } from "./transitions.ts";

/** Result of a compare-and-set: either it won, or here is the record that won instead. */
export type CasResult<T> =
  | { readonly won: true; readonly record: T }
  | { readonly won: false; readonly current: T | undefined };

export interface IdempotencyRecord {
  readonly key: string;
  readonly batchId: string;
  readonly requestHash: string;
  /** When the claiming request created its batch id: a replay that recreates the batch reuses it. */
  readonly createdAt: string;
  /** Epoch ms of the claim (or of its last takeover): an old claim with no batch was abandoned. */
  readonly claimedAt: number;
}

export interface BatchPage {
  readonly batches: BatchRecord[];
  readonly nextCursor?: string;
}

/** A webhook given at submit: the batch's notices are posted to `url`, signed with `secret`. */
export interface Webhook {
  readonly url: string;
  readonly secret: string;
}

/** Batches, jobs, audit entries and idempotency claims. Every state change is a compare-and-set. */
export interface BatchStore {
  /**
   * Writes the jobs, then the batch record: a batch that is visible always has all of its jobs.
   * `beforeEachWrite` runs before every write (the submit renews its Idempotency-Key lease there).
   */
  createBatch(
    batch: BatchRecord,
    jobs: readonly JobRecord[],
    beforeEachWrite?: () => Promise<void>,
  ): Promise<void>;
  getBatch(batchId: string): Promise<BatchRecord | undefined>;
  getJob(batchId: string, jobId: string): Promise<JobRecord | undefined>;
  /** Everything stored under a batch: the batch, its jobs and its audit trail. */
  loadBatch(
    batchId: string,
  ): Promise<{ batch: BatchRecord; jobs: JobRecord[]; audit: AuditEntry[] } | undefined>;
  listJobs(batchId: string): Promise<JobRecord[]>;
  /** The jobs without inputs and phase timelines (`phases` comes back empty): what a cancel reads. */
  listJobStates(batchId: string): Promise<JobRecord[]>;
  /**
   * One page of a batch's jobs, in job order. With `processedOnly`, jobs with no results yet are
   * left out of the page (so it may hold fewer than `limit`); `nextCursor` goes on either way.
   */
  listJobsPage(
    batchId: string,
    options: { limit: number; cursor?: string; processedOnly?: boolean },
  ): Promise<{ jobs: JobRecord[]; nextCursor?: string }>;
  /** Up to `limit` jobs in job order, from the one after `afterJobId` (from the first without it). */
  listJobsAfter(
    batchId: string,
    afterJobId: string | undefined,
    limit: number,
  ): Promise<JobRecord[]>;
  /**
   * Up to `limit` of the batch's jobs in one status that has not ended, from an index of the jobs
   * that have not ended (eventually consistent): its running jobs are at most its concurrency.
   */
  listActiveJobs(
    batchId: string,
    status: "queued" | "running",
    limit: number,
  ): Promise<JobRecord[]>;
  /** The batch's audit trail, oldest first. */
  listAudit(batchId: string): Promise<AuditEntry[]>;
  /**
   * Replaces the batch's job counts with ones counted from every job (finalize does). Between
   * recounts the store keeps them: each job write that changes a job's status moves it from one
   * count to the other (`jobCounts` on the batch; not atomic with the job's write).
   */
  setJobCounts(batchId: string, counts: JobCounts): Promise<void>;
  /** Batches, newest first. */
  listBatches(options: {
    status?: BatchStatus;
    limit: number;
    cursor?: string;
  }): Promise<BatchPage>;
  /** Batches in one of `statuses` created in a time window, oldest first (the sweep's view). */
  listBatchesIn(
    statuses: readonly BatchStatus[],
    window: { createdAfter: string; createdBefore: string },
  ): Promise<BatchRecord[]>;

  /** Applies a batch transition if its guard holds. */
  transitionBatch(batchId: string, transition: BatchTransition): Promise<CasResult<BatchRecord>>;
  /** Applies a job transition if its guard holds. */
  transitionJob(
    batchId: string,
    jobId: string,
    transition: JobTransition,
  ): Promise<CasResult<JobRecord>>;
  /** Deletes a job's record only if it has ended. */
  deleteFinishedJob(batchId: string, jobId: string): Promise<CasResult<JobRecord>>;

  /**
   * Reserves the next item chunk of a job's phase and counts its items: the chunk's number names
   * its object, so concurrent or retried emits never overwrite one another.
   */
  reserveItemChunk(batchId: string, jobId: string, phase: string, items: number): Promise<number>;
  /**
   * Adds what changed in a job's numbers (`previous` to `next`) to its batch's sums. Not atomic
   * with the job's own write (a phase adds first, then writes its job): a crash in between leaves
   * the sums over until they are recomputed from every job (finalize, or the reconciler).
   */
  addToTotals(
    batchId: string,
    previous: Readonly<Record<string, number>> | undefined,
    next: Readonly<Record<string, number>>,
  ): Promise<void>;
  /** Replaces a batch's sums with ones recomputed from every job. */
  setTotals(batchId: string, totals: Record<string, number>): Promise<void>;
  appendAudit(batchId: string, entry: AuditEntry): Promise<void>;
  /**
   * Tells a batch's running phases to read their cancel intents again: every cancel that stops
   * running phases (batch, subset, job, a stop from the console) calls it once its intent is written.
   */
  raiseCancelSignal(batchId: string): Promise<void>;
  /**
   * How many times the batch's cancel signal was raised (0 if never): what each running phase reads
   * once per poll. An eventually consistent read of one small item, half a read unit.
   */
  readCancelSignal(batchId: string): Promise<number>;
  /** Keeps a cancel's receipt; writing the same one again changes nothing. */
  putCancellation(record: CancellationRecord): Promise<void>;
  getCancellation(batchId: string, cancellationId: string): Promise<CancellationRecord | undefined>;
  /**
   * Records the jobs whose phase still runs as a cancelled batch ends: `stragglers`, and
   * `stillStopping`, which each straggler leaves as its phase ends. False if the batch already has
   * them, or has quiesced.
   */
  recordStragglers(
    batchId: string,
    jobIds: readonly string[],
    saved: CancelSavings,
  ): Promise<boolean>;
  /**
   * A straggler's phase has ended: it leaves `stillStopping`. The number of stragglers still
   * stopping, or undefined if the job was not one of them (or had left already).
   */
  settleStraggler(batchId: string, jobId: string): Promise<number | undefined>;
  /** Keeps where a batch's notices are posted and the secret they are signed with, apart from it. */
  putWebhook(batchId: string, webhook: Webhook): Promise<void>;
  getWebhook(batchId: string): Promise<Webhook | undefined>;
  /** Keeps a previewed selection until its token expires. */
  putSelection(record: SelectionRecord): Promise<void>;
  getSelection(batchId: string, token: string): Promise<SelectionRecord | undefined>;

  getIdempotency(key: string): Promise<IdempotencyRecord | undefined>;
  /** Claims a key for a batch; the existing claim if another request won (or one past 24 h is free). */
  claimIdempotency(
    record: IdempotencyRecord,
    nowSeconds: number,
  ): Promise<CasResult<IdempotencyRecord>>;
  /** Renews a claim's lease, only if it is still this request's; false if it was taken over. */
  renewIdempotency(
    key: string,
    batchId: string,
    previousClaimedAt: number,
    claimedAt: number,
  ): Promise<boolean>;
  /** Replaces an abandoned claim, only if it is still the one that was read. */
  takeOverIdempotency(record: IdempotencyRecord, previous: IdempotencyRecord): Promise<boolean>;
}

/**
 * Phase outputs, items, checkpoints and the documents written from them, by key (the layout is in
 * output-keys.ts). Nothing here lists: every key is derived from ids.
 */
export interface OutputStore {
  /** Where the objects are kept (the bucket's name). */
  readonly bucket: string;
  /** The address of an object, for people and manifests (`s3://bucket/key`). */
  uri(key: string): string;
  /** A link anyone holding it can download the object with, for `expiresInSeconds`. */
  downloadUrl(key: string, expiresInSeconds: number): Promise<string>;
  putOutput(output: PhaseOutputDocument): Promise<string>;
  /**
   * One phase output, or undefined if none was saved. An object that cannot be read as one is
   * reported as that phase's error, so one bad object never fails a whole batch's results.
   */
  readOutput(
    batchId: string,
    jobId: string,
    phase: string,
  ): Promise<PhaseOutputDocument | undefined>;
  /** The outputs of these phases of a job; a phase with no output is left out. */
  readOutputs(
    batchId: string,
    jobId: string,
    phases: readonly string[],
  ): Promise<PhaseOutputDocument[]>;
  putCheckpoint(
    batchId: string,
    jobId: string,
    phase: string,
    checkpoint: SavedCheckpoint,
  ): Promise<void>;
  getCheckpoint(
    batchId: string,
    jobId: string,
    phase: string,
  ): Promise<SavedCheckpoint | undefined>;
  putItems(
    batchId: string,
    jobId: string,
    phase: string,
    chunk: number,
    items: readonly unknown[],
  ): Promise<void>;
  /**
   * Items of a job's phase from item `offset` on, at most `limit`, reading its `chunks` in order. A
   * chunk that is missing (its write was cut short) is skipped.
   */
  readItems(
    batchId: string,
    jobId: string,
    phase: string,
    chunks: number,
    options: { offset: number; limit: number },
  ): Promise<{ items: unknown[]; next?: number }>;
  putJson(key: string, body: unknown): Promise<void>;
}

/** The engine that runs a batch's execution (Step Functions): one execution per batch. */
export interface ExecutionEngine {
  /** The execution id (ARN) a batch's execution has, or will have, from its name. */
  executionArnOf(name: string): string;
  /**
   * Starts the batch's execution, named by its batch id. Returns the execution ARN. Starting one
   * that already exists is not an error: a retried submit or the sweep may start it twice.
   */
  startExecution(name: string, input: unknown): Promise<string>;
  /** An execution's status, as its status-change event would carry it; undefined if none exists. */
  describeExecution(executionArn: string): Promise<ExecutionStatusChange | undefined>;
  /** Stops an execution; an execution that no longer runs is not an error. */
  stopExecution(executionArn: string, error: string, cause: string): Promise<void>;
}

/** Hands the marking of a cancelled batch's remaining jobs to the reconciler, off the request's path. */
export interface ReconcileQueue {
  /** Queues a reconcile of this cancelled batch (as its ABORTED status change would). */
  requestReconcile(batch: BatchRecord, intent: CancelIntent): Promise<void>;
}

/** Where a batch's events go (EventBridge): what happened to it, for other systems to act on. */
export interface BatchEvents {
  /** Publishes "Batch Quiesced"; the batch's webhook, if it has one, is called from the event. */
  publishQuiesced(event: BatchQuiesced): Promise<void>;
}
