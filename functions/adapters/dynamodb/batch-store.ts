import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { ValidationError } from "../../core/errors.ts";
import type {
  AuditEntry,
  BatchRecord,
  BatchStatus,
  CancelIntent,
  CancelSummary,
  JobRecord,
  JobStatus,
  PhaseProgress,
  PhaseRecord,
} from "../../core/model.ts";
import { numbersDelta } from "../../core/results.ts";
import { STATE_TABLE } from "./table.ts";

/** Result of a compare-and-set: either it won, or here is the record that won instead. */
export type CasResult<T> =
  | { readonly won: true; readonly record: T }
  | { readonly won: false; readonly current: T | undefined };

const batchKey = (batchId: string) => ({ pk: `BATCH#${batchId}`, sk: "META" });
const jobKey = (batchId: string, jobId: string) => ({ pk: `BATCH#${batchId}`, sk: `JOB#${jobId}` });
const idempotencyKey = (key: string) => ({ pk: `IDEMPOTENCY#${key}`, sk: "META" });
const LIST_INDEX = STATE_TABLE.listIndex.name;
const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

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

/**
 * DynamoDB access for batches, jobs, audit entries and idempotency keys, in one table.
 * Every status change is a single-item conditional write: dynalite (the local stack) has no
 * transactions, and a single compare-and-set is all a race between cancel and completion needs.
 */
export class BatchStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Writes the jobs, then the batch record: a batch that is visible always has all of its jobs.
   * `beforeEachWrite` runs before every write (the submit renews its Idempotency-Key lease there,
   * and stops if another request took the key over).
   */
  async createBatch(
    batch: BatchRecord,
    jobs: readonly JobRecord[],
    beforeEachWrite: () => Promise<void> = async () => undefined,
  ): Promise<void> {
    for (let i = 0; i < jobs.length; i += 25) {
      await beforeEachWrite();
      let requests = jobs.slice(i, i + 25).map((job) => ({
        PutRequest: {
          Item: {
            ...jobKey(job.batchId, job.jobId),
            type: "job",
            // The maps emit() and its counters update in place must exist from the start.
            itemCounts: {},
            itemChunks: {},
            ...job,
          },
        },
      }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        const out = await this.db.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }),
        );
        requests = (out.UnprocessedItems?.[this.tableName] ?? []) as typeof requests;
        if (requests.length > 0) await sleep(Math.min(1000, 50 * 2 ** attempt));
      }
    }
    await beforeEachWrite();
    // If an earlier attempt of the same submission recorded it first, that record stands.
    await this.conditionally(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...batchKey(batch.batchId),
          type: "batch",
          gsi1pk: "BATCHES",
          gsi1sk: `${batch.createdAt}#${batch.batchId}`,
          ...batch,
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  }

  async getBatch(batchId: string): Promise<BatchRecord | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: batchKey(batchId), ConsistentRead: true }),
    );
    return out.Item ? toBatch(out.Item) : undefined;
  }

  async getJob(batchId: string, jobId: string): Promise<JobRecord | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: jobKey(batchId, jobId),
        ConsistentRead: true,
      }),
    );
    return out.Item ? toJob(out.Item) : undefined;
  }

  /** Everything stored under a batch: the batch, its jobs and its audit trail, in one query. */
  async loadBatch(
    batchId: string,
  ): Promise<{ batch: BatchRecord; jobs: JobRecord[]; audit: AuditEntry[] } | undefined> {
    let batch: BatchRecord | undefined;
    const jobs: JobRecord[] = [];
    const audit: AuditEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": `BATCH#${batchId}` },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) {
        if (item.sk === "META") batch = toBatch(item);
        else if (String(item.sk).startsWith("JOB#")) jobs.push(toJob(item));
        else if (String(item.sk).startsWith("AUDIT#")) audit.push(toAudit(item));
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return batch ? { batch, jobs, audit } : undefined;
  }

  async listJobs(batchId: string): Promise<JobRecord[]> {
    return this.queryJobs(batchId);
  }

  /**
   * The jobs of a batch without their inputs, results and phase timelines: what a cancel needs to
   * decide (a fraction of the bytes to read for a large batch). `phases` comes back empty.
   */
  listJobStates(batchId: string): Promise<JobRecord[]> {
    return this.queryJobs(
      batchId,
      "pk, sk, batchId, jobId, #name, #status, phase, inCommit, wasInPhase, createdAt, numbers",
    );
  }

  private async queryJobs(batchId: string, projection?: string): Promise<JobRecord[]> {
    const jobs: JobRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :job)",
          ExpressionAttributeValues: { ":pk": `BATCH#${batchId}`, ":job": "JOB#" },
          ...(projection
            ? {
                ProjectionExpression: projection,
                ExpressionAttributeNames: { "#name": "name", "#status": "status" },
              }
            : {}),
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) jobs.push(toJob(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return jobs;
  }

  async listBatches(options: {
    status?: BatchStatus;
    limit: number;
    cursor?: string;
  }): Promise<BatchPage> {
    const batches: BatchRecord[] = [];
    let startKey = options.cursor ? decodeCursor(options.cursor) : undefined;
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: LIST_INDEX,
          KeyConditionExpression: "gsi1pk = :all",
          ExpressionAttributeValues: {
            ":all": "BATCHES",
            ...(options.status ? { ":status": options.status } : {}),
          },
          ...(options.status
            ? {
                FilterExpression: "#status = :status",
                ExpressionAttributeNames: { "#status": "status" },
              }
            : {}),
          ScanIndexForward: false,
          Limit: options.limit - batches.length,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) batches.push(toBatch(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey && batches.length < options.limit);
    return startKey ? { batches, nextCursor: encodeCursor(startKey) } : { batches };
  }

  /**
   * Batches in one of `statuses` created in a time window, oldest first: what the sweep looks at.
   * A range of the list index, so it reads the window's batches, never a batch's jobs.
   */
  async listBatchesIn(
    statuses: readonly BatchStatus[],
    window: { createdAfter: string; createdBefore: string },
  ): Promise<BatchRecord[]> {
    const batches: BatchRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: LIST_INDEX,
          KeyConditionExpression: "gsi1pk = :all AND gsi1sk BETWEEN :from AND :to",
          FilterExpression: `#status IN (${statuses.map((_, i) => `:s${i}`).join(", ")})`,
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: {
            ":all": "BATCHES",
            ":from": window.createdAfter,
            ":to": `${window.createdBefore}#~`,
            ...Object.fromEntries(statuses.map((status, i) => [`:s${i}`, status])),
          },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) batches.push(toBatch(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return batches;
  }

  // ---- batch transitions -------------------------------------------------------------------

  /** queued|running -> cancelling, with the durable cancel intent. Loses to any terminal state. */
  setBatchCancelIntent(batchId: string, intent: CancelIntent): Promise<CasResult<BatchRecord>> {
    return this.casBatch(batchId, {
      set: { status: "cancelling", cancel: intent },
      condition: "#status IN (:queued, :running) AND attribute_not_exists(cancel)",
      values: { ":queued": "queued", ":running": "running" },
    });
  }

  /** Records what the first cancel applied; loses if a summary is already there. */
  recordCancelSummary(batchId: string, summary: CancelSummary): Promise<CasResult<BatchRecord>> {
    return this.casBatch(batchId, {
      set: { cancelSummary: summary },
      condition: "attribute_not_exists(cancelSummary)",
      values: {},
    });
  }

  markBatchRunning(batchId: string, at: string): Promise<CasResult<BatchRecord>> {
    return this.casBatch(batchId, {
      set: { status: "running", startedAt: at },
      condition: "#status = :queued",
      values: { ":queued": "queued" },
    });
  }

  /** Moves a batch that is still active (or being cancelled) to a terminal status. */
  finishBatch(
    batchId: string,
    status: BatchStatus,
    at: string,
    extra: Partial<Pick<BatchRecord, "error">> = {},
  ): Promise<CasResult<BatchRecord>> {
    return this.casBatch(batchId, {
      set: { status, endedAt: at, ...extra },
      condition: "#status IN (:queued, :running, :cancelling)",
      values: { ":queued": "queued", ":running": "running", ":cancelling": "cancelling" },
    });
  }

  /**
   * Like finishBatch, for a status decided from a record that had no cancel intent: it loses if an
   * intent has appeared since, so a late cancel is never overwritten by a completion.
   */
  finishUncancelledBatch(
    batchId: string,
    status: BatchStatus,
    at: string,
  ): Promise<CasResult<BatchRecord>> {
    return this.casBatch(batchId, {
      set: { status, endedAt: at },
      condition: "#status IN (:queued, :running) AND attribute_not_exists(cancel)",
      values: { ":queued": "queued", ":running": "running" },
    });
  }

  // ---- job transitions ---------------------------------------------------------------------

  /** queued -> cancelled: the job never starts. */
  cancelQueuedJob(
    batchId: string,
    jobId: string,
    intent: CancelIntent,
    at: string,
  ): Promise<CasResult<JobRecord>> {
    return this.casJob(batchId, jobId, {
      set: { status: "cancelled", cancel: intent, endedAt: at },
      condition: "#status = :queued",
      values: { ":queued": "queued" },
    });
  }

  /** running -> cancelled, unless the job is in its final commit (the fence). */
  cancelRunningJob(
    batchId: string,
    jobId: string,
    intent: CancelIntent,
    at: string,
    phase: string | undefined,
  ): Promise<CasResult<JobRecord>> {
    return this.casJob(batchId, jobId, {
      set: {
        status: "cancelled",
        cancel: intent,
        endedAt: at,
        ...(phase ? { wasInPhase: phase } : {}),
      },
      condition: "#status = :running AND (attribute_not_exists(inCommit) OR inCommit = :false)",
      values: { ":running": "running", ":false": false },
    });
  }

  /**
   * queued|running -> running in `phase`, unless a cancel intent is on the job. Entering the final
   * phase sets the commit fence in the same write, so a cancel either lands before it or not at all.
   */
  async startPhase(
    batchId: string,
    jobId: string,
    phase: string,
    isFinal: boolean,
    at: string,
    attempt: number,
  ): Promise<CasResult<JobRecord>> {
    const record: PhaseRecord = { status: "running", startedAt: at, attempt };
    return this.casJob(batchId, jobId, {
      set: { status: "running", phase, inCommit: isFinal },
      setIfMissing: { startedAt: at },
      phaseRecord: [phase, record],
      condition: "#status IN (:queued, :running) AND attribute_not_exists(cancel)",
      values: { ":queued": "queued", ":running": "running" },
    });
  }

  /** Records a finished (non-final) phase; loses if a cancel ended the job meanwhile. */
  completePhase(
    batchId: string,
    jobId: string,
    phase: string,
    record: PhaseRecord,
    numbers: Record<string, number>,
  ): Promise<CasResult<JobRecord>> {
    return this.casJob(batchId, jobId, {
      set: { numbers },
      phaseRecord: [phase, record],
      condition: "#status = :running",
      values: { ":running": "running" },
    });
  }

  /** The final phase finished: running -> succeeded, fence lifted. */
  succeedJob(
    batchId: string,
    jobId: string,
    phase: string,
    record: PhaseRecord,
    numbers: Record<string, number>,
    at: string,
  ): Promise<CasResult<JobRecord>> {
    return this.casJob(batchId, jobId, {
      set: { status: "succeeded", inCommit: false, numbers, endedAt: at },
      phaseRecord: [phase, record],
      condition: "#status = :running",
      values: { ":running": "running" },
    });
  }

  /** A phase stopped at a safe point after a cancel: the job ends cancelled (if not already). */
  abortPhase(
    batchId: string,
    jobId: string,
    phase: string,
    record: PhaseRecord,
    numbers: Record<string, number>,
    at: string,
  ): Promise<CasResult<JobRecord>> {
    return this.casJob(batchId, jobId, {
      set: { status: "cancelled", inCommit: false, numbers },
      setIfMissing: { wasInPhase: phase, endedAt: at },
      phaseRecord: [phase, record],
      condition: "#status IN (:running, :cancelled)",
      values: { ":running": "running", ":cancelled": "cancelled" },
    });
  }

  /**
   * Records a failed attempt of a phase (and what the job has now); it stays running until retries
   * run out. The commit fence stays up: a final phase that failed half-way is retried or failed,
   * never cancelled half-committed.
   */
  recordPhaseFailure(
    batchId: string,
    jobId: string,
    phase: string,
    record: PhaseRecord,
    numbers: Record<string, number>,
  ): Promise<CasResult<JobRecord>> {
    return this.casJob(batchId, jobId, {
      set: { numbers },
      phaseRecord: [phase, record],
      condition: "#status = :running",
      values: { ":running": "running" },
    });
  }

  /** queued|running -> failed, with the error that ended it. */
  failJob(
    batchId: string,
    jobId: string,
    error: { name: string; message: string },
    at: string,
  ): Promise<CasResult<JobRecord>> {
    return this.casJob(batchId, jobId, {
      set: { status: "failed", inCommit: false, error, endedAt: at },
      condition: "#status IN (:queued, :running)",
      values: { ":queued": "queued", ":running": "running" },
    });
  }

  /**
   * Reserves the next item chunk of a job's phase and counts its items: the chunk's number names
   * its object, so concurrent or retried emits never overwrite one another.
   */
  async reserveItemChunk(
    batchId: string,
    jobId: string,
    phase: string,
    items: number,
  ): Promise<number> {
    const out = await this.withMaps(jobKey(batchId, jobId), ["itemChunks", "itemCounts"], () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(batchId, jobId),
          UpdateExpression:
            "SET itemChunks.#p = if_not_exists(itemChunks.#p, :zero) + :one, itemCounts.#p = if_not_exists(itemCounts.#p, :zero) + :n",
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: { "#p": phase },
          ExpressionAttributeValues: { ":zero": 0, ":one": 1, ":n": items },
          ReturnValues: "UPDATED_NEW",
        }),
      ),
    );
    return Number((out.Attributes?.itemChunks as Record<string, number> | undefined)?.[phase]);
  }

  /** What a running phase reported last; ignored once the job has ended. */
  async setProgress(batchId: string, jobId: string, progress: PhaseProgress): Promise<void> {
    await this.casJob(batchId, jobId, {
      set: { progress },
      condition: "#status = :running",
      values: { ":running": "running" },
    });
  }

  /**
   * Adds what changed in a job's numbers to its batch's sums. Not atomic with the job's own write:
   * a crash in between leaves the sums short until finalize recomputes them from every job.
   */
  async addToTotals(
    batchId: string,
    previous: Readonly<Record<string, number>> | undefined,
    next: Readonly<Record<string, number>>,
  ): Promise<void> {
    const delta = Object.entries(numbersDelta(previous, next));
    if (delta.length === 0) return;
    const names: Record<string, string> = {};
    const values: Record<string, number> = { ":zero": 0 };
    const sets = delta.map(([name, change], i) => {
      names[`#t${i}`] = name;
      values[`:d${i}`] = change;
      return `totals.#t${i} = if_not_exists(totals.#t${i}, :zero) + :d${i}`;
    });
    await this.withMaps(batchKey(batchId), ["totals"], () =>
      this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: batchKey(batchId),
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  /** Replaces a batch's sums with ones recomputed from every job (finalize does). */
  async setTotals(batchId: string, totals: Record<string, number>): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: batchKey(batchId),
        UpdateExpression: "SET totals = :totals",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":totals": totals },
      }),
    );
  }

  /**
   * One page of a batch's jobs, in job order. With `processedOnly`, jobs with no output yet are
   * left out of the page (so it may hold fewer than `limit`); `nextCursor` goes on either way.
   */
  async listJobsPage(
    batchId: string,
    options: { limit: number; cursor?: string; processedOnly?: boolean },
  ): Promise<{ jobs: JobRecord[]; nextCursor?: string }> {
    const out: QueryCommandOutput = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :job)",
        ExpressionAttributeValues: {
          ":pk": `BATCH#${batchId}`,
          ":job": "JOB#",
          ...(options.processedOnly ? { ":one": 1 } : {}),
        },
        ...(options.processedOnly ? { FilterExpression: "numbers.jobsProcessed = :one" } : {}),
        Limit: options.limit,
        ConsistentRead: true,
        ...(options.cursor ? { ExclusiveStartKey: decodeJobCursor(batchId, options.cursor) } : {}),
      }),
    );
    const jobs = (out.Items ?? []).map(toJob);
    return out.LastEvaluatedKey
      ? { jobs, nextCursor: encodeCursor(out.LastEvaluatedKey) }
      : { jobs };
  }

  /** Runs an update that writes inside top-level maps, creating the maps first on older records. */
  private async withMaps<T>(
    key: Record<string, string>,
    maps: readonly string[],
    update: () => Promise<T>,
  ): Promise<T> {
    try {
      return await update();
    } catch (error) {
      if ((error as Error).name !== "ValidationException") throw error;
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `SET ${maps.map((_, i) => `#m${i} = if_not_exists(#m${i}, :empty)`).join(", ")}`,
          ConditionExpression: "attribute_exists(pk)",
          ExpressionAttributeNames: Object.fromEntries(maps.map((m, i) => [`#m${i}`, m])),
          ExpressionAttributeValues: { ":empty": {} },
        }),
      );
      return update();
    }
  }

  /** Deletes a job record only if it is finished. */
  async deleteFinishedJob(batchId: string, jobId: string): Promise<CasResult<JobRecord>> {
    try {
      const out = await this.db.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: jobKey(batchId, jobId),
          ConditionExpression: "#status IN (:s, :f, :c)",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":s": "succeeded", ":f": "failed", ":c": "cancelled" },
          ReturnValues: "ALL_OLD",
        }),
      );
      return { won: true, record: toJob(out.Attributes ?? {}) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { won: false, current: await this.getJob(batchId, jobId) };
    }
  }

  async appendAudit(batchId: string, entry: AuditEntry): Promise<void> {
    const suffix = Math.random().toString(36).slice(2, 8);
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: `BATCH#${batchId}`,
          sk: `AUDIT#${entry.at}#${suffix}`,
          type: "audit",
          ...entry,
        },
      }),
    );
  }

  // ---- idempotency -------------------------------------------------------------------------

  async getIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: idempotencyKey(key), ConsistentRead: true }),
    );
    return out.Item
      ? {
          key,
          batchId: String(out.Item.batchId),
          requestHash: String(out.Item.requestHash),
          createdAt: String(out.Item.createdAt ?? ""),
          claimedAt: Number(out.Item.claimedAt ?? 0),
        }
      : undefined;
  }

  /** Renews a claim's lease, only if it is still this request's; false if it was taken over. */
  async renewIdempotency(
    key: string,
    batchId: string,
    previousClaimedAt: number,
    claimedAt: number,
  ): Promise<boolean> {
    return this.conditionally(
      new UpdateCommand({
        TableName: this.tableName,
        Key: idempotencyKey(key),
        UpdateExpression: "SET claimedAt = :claimedAt",
        ConditionExpression: "batchId = :batchId AND claimedAt = :previous",
        ExpressionAttributeValues: {
          ":claimedAt": claimedAt,
          ":batchId": batchId,
          ":previous": previousClaimedAt,
        },
      }),
    );
  }

  /** Replaces an abandoned claim, only if it is still the one that was read. */
  async takeOverIdempotency(
    record: IdempotencyRecord,
    previous: IdempotencyRecord,
  ): Promise<boolean> {
    return this.conditionally(
      new UpdateCommand({
        TableName: this.tableName,
        Key: idempotencyKey(record.key),
        UpdateExpression:
          "SET batchId = :batchId, requestHash = :hash, createdAt = :createdAt, claimedAt = :claimedAt",
        ConditionExpression:
          "batchId = :previousBatch AND (attribute_not_exists(claimedAt) OR claimedAt = :previousClaim)",
        ExpressionAttributeValues: {
          ":batchId": record.batchId,
          ":hash": record.requestHash,
          ":createdAt": record.createdAt,
          ":claimedAt": record.claimedAt,
          ":previousBatch": previous.batchId,
          ":previousClaim": previous.claimedAt,
        },
      }),
    );
  }

  /** Claims an idempotency key for a batch; returns the existing claim if another request won. */
  async claimIdempotency(
    record: IdempotencyRecord,
    nowSeconds: number,
  ): Promise<CasResult<IdempotencyRecord>> {
    const won = await this.conditionally(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...idempotencyKey(record.key),
          type: "idempotency",
          ...record,
          expiresAt: nowSeconds + IDEMPOTENCY_TTL_SECONDS,
        },
        // A claim past its 24 h is free again, whether or not TTL has deleted it yet.
        ConditionExpression: "attribute_not_exists(pk) OR expiresAt < :now",
        ExpressionAttributeValues: { ":now": nowSeconds },
      }),
    );
    return won ? { won, record } : { won, current: await this.getIdempotency(record.key) };
  }

  // ---- compare-and-set plumbing ------------------------------------------------------------

  /** Sends a conditional write: false when its condition failed (another write got there first). */
  private async conditionally(command: PutCommand | UpdateCommand): Promise<boolean> {
    try {
      // send() is typed per command; the union of the two needs telling which overload to take.
      await this.db.send(command as PutCommand);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async casBatch(batchId: string, change: Change): Promise<CasResult<BatchRecord>> {
    const out = await this.update(batchKey(batchId), change);
    if (out) return { won: true, record: toBatch(out) };
    return { won: false, current: await this.getBatch(batchId) };
  }

  private async casJob(
    batchId: string,
    jobId: string,
    change: Change,
  ): Promise<CasResult<JobRecord>> {
    const out = await this.update(jobKey(batchId, jobId), change);
    if (out) return { won: true, record: toJob(out) };
    return { won: false, current: await this.getJob(batchId, jobId) };
  }

  /** One conditional UpdateItem; undefined when the condition failed. */
  private async update(
    key: Record<string, string>,
    change: Change,
  ): Promise<Record<string, unknown> | undefined> {
    // DynamoDB refuses names an expression does not use.
    const names: Record<string, string> = change.condition.includes("#status")
      ? { "#status": "status" }
      : {};
    const values: Record<string, unknown> = { ...change.values };
    const sets: string[] = [];
    let n = 0;
    for (const [field, value] of Object.entries(change.set)) {
      names[`#f${n}`] = field;
      values[`:v${n}`] = value;
      sets.push(`#f${n} = :v${n}`);
      n++;
    }
    for (const [field, value] of Object.entries(change.setIfMissing ?? {})) {
      names[`#f${n}`] = field;
      values[`:v${n}`] = value;
      sets.push(`#f${n} = if_not_exists(#f${n}, :v${n})`);
      n++;
    }
    if (change.phaseRecord) {
      names["#phases"] = "phases";
      names["#phase"] = change.phaseRecord[0];
      values[":phaseRecord"] = change.phaseRecord[1];
      sets.push("#phases.#phase = :phaseRecord");
    }
    names["#updatedAt"] = "updatedAt";
    values[":updatedAt"] = new Date().toISOString();
    sets.push("#updatedAt = :updatedAt");
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: `attribute_exists(pk) AND ${change.condition}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return out.Attributes ?? {};
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}

interface Change {
  readonly set: Record<string, unknown>;
  readonly setIfMissing?: Record<string, unknown>;
  readonly phaseRecord?: readonly [string, PhaseRecord];
  readonly condition: string;
  readonly values: Record<string, unknown>;
}

const STORAGE_FIELDS = ["pk", "sk", "type", "gsi1pk", "gsi1sk", "updatedAt", "expiresAt"];

function strip(item: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...item };
  for (const field of STORAGE_FIELDS) delete copy[field];
  return copy;
}

const toBatch = (item: Record<string, unknown>) => strip(item) as unknown as BatchRecord;
const toJob = (item: Record<string, unknown>) =>
  ({ phases: {}, ...strip(item) }) as unknown as JobRecord;
const toAudit = (item: Record<string, unknown>) => strip(item) as unknown as AuditEntry;

function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** A jobs-page cursor, checked to be one of this batch's, rebuilt from exactly its key. */
function decodeJobCursor(batchId: string, cursor: string): Record<string, unknown> {
  const key = parseCursor(cursor);
  if (key?.pk === `BATCH#${batchId}` && typeof key.sk === "string" && key.sk.startsWith("JOB#"))
    return { pk: key.pk, sk: key.sk };
  throw new ValidationError("cursor is not a cursor returned for this batch's results");
}

/** A list cursor, rebuilt from exactly the list index's key (anything else is refused). */
function decodeCursor(cursor: string): Record<string, unknown> {
  const key = parseCursor(cursor);
  const fields = ["pk", "sk", "gsi1pk", "gsi1sk"] as const;
  if (key && fields.every((field) => typeof key[field] === "string"))
    return Object.fromEntries(fields.map((field) => [field, key[field]]));
  throw new ValidationError("cursor is not a cursor returned by GET /batches");
}

function parseCursor(cursor: string): Record<string, unknown> | undefined {
  try {
    const key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    return key && typeof key === "object" && !Array.isArray(key)
      ? (key as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export type { JobStatus };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
