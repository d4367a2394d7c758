import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { ValidationError } from "../../core/errors.ts";
import {
  type AuditEntry,
  type BatchRecord,
  type BatchStatus,
  type CancelSavings,
  isJobTerminal,
  type JobCounts,
  type JobRecord,
  type JobStatus,
} from "../../core/model.ts";
import type {
  BatchPage,
  BatchStore,
  CasResult,
  IdempotencyRecord,
  Webhook,
} from "../../core/ports.ts";
import type { CancellationRecord } from "../../core/receipts.ts";
import { numbersDelta } from "../../core/results.ts";
import type { SelectionRecord } from "../../core/selection.ts";
import {
  type BatchTransition,
  deletableJob,
  type Guard,
  type JobTransition,
} from "../../core/transitions.ts";
import { STATE_TABLE } from "./table.ts";

/**
 * The attribute names the expressions below are written with are the table's (table.ts): if the
 * schema changes, this line stops compiling until the expressions follow.
 */
STATE_TABLE satisfies {
  partitionKey: "pk";
  sortKey: "sk";
  listIndex: { partitionKey: "gsi1pk"; sortKey: "gsi1sk" };
  activeIndex: { partitionKey: "activeOf"; sortKey: "activeKey" };
  timeToLive: "expiresAt";
};

const batchKey = (batchId: string) => ({ pk: `BATCH#${batchId}`, sk: "META" });
const jobKey = (batchId: string, jobId: string) => ({ pk: `BATCH#${batchId}`, sk: `JOB#${jobId}` });
/** One small item per batch that every cancel stopping running phases bumps: what phases poll. */
const cancelSignalKey = (batchId: string) => ({ pk: `BATCH#${batchId}`, sk: "CANCEL_SIGNAL" });
const idempotencyKey = (key: string) => ({ pk: `IDEMPOTENCY#${key}`, sk: "META" });
const selectionKey = (batchId: string, token: string) => ({
  pk: `BATCH#${batchId}`,
  sk: `SELECTION#${token}`,
});
const cancellationKey = (batchId: string, cancellationId: string) => ({
  pk: `BATCH#${batchId}`,
  sk: `CANCELLATION#${cancellationId}`,
});
const LIST_INDEX = STATE_TABLE.listIndex.name;
const ACTIVE_INDEX = STATE_TABLE.activeIndex.name;
/** A job's place in the active-jobs index while it has not ended: `<status>#<jobId>`. */
const activeKeyOf = (status: JobStatus, jobId: string) => `${status}#${jobId}`;
const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

/**
 * DynamoDB access for batches, jobs, audit entries and idempotency keys, in one table.
 * Every status change is a single-item conditional write: dynalite (the local stack) has no
 * transactions, and a single compare-and-set is all a race between cancel and completion needs.
 */
export class DynamoBatchStore implements BatchStore {
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
            ...(isJobTerminal(job.status)
              ? {}
              : { activeOf: job.batchId, activeKey: activeKeyOf(job.status, job.jobId) }),
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
    const items = await this.queryAll({
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": `BATCH#${batchId}` },
      ConsistentRead: true,
    });
    for (const item of items) {
      if (item.sk === "META") batch = toBatch(item);
      else if (String(item.sk).startsWith("JOB#")) jobs.push(toJob(item));
      else if (String(item.sk).startsWith("AUDIT#")) audit.push(toAudit(item));
    }
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
    const items = await this.queryAll({
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :job)",
      ExpressionAttributeValues: { ":pk": `BATCH#${batchId}`, ":job": "JOB#" },
      ...(projection
        ? {
            ProjectionExpression: projection,
            ExpressionAttributeNames: { "#name": "name", "#status": "status" },
          }
        : {}),
      ConsistentRead: true,
    });
    return items.map(toJob);
  }

  /** Every item a query matches, page after page; at most `limit` when given. */
  private async queryAll(
    query: Omit<QueryCommandInput, "TableName" | "Limit" | "ExclusiveStartKey">,
    limit = Number.POSITIVE_INFINITY,
  ): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out: QueryCommandOutput = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          ...query,
          ...(Number.isFinite(limit) ? { Limit: limit - items.length } : {}),
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(out.Items ?? []));
      startKey = out.LastEvaluatedKey;
    } while (startKey && items.length < limit);
    return items;
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
    const items = await this.queryAll({
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
    });
    return items.map(toBatch);
  }

  // ---- transitions ------------------------------------------------------------------------

  transitionBatch(batchId: string, transition: BatchTransition): Promise<CasResult<BatchRecord>> {
    return this.casBatch(batchId, transition);
  }

  transitionJob(
    batchId: string,
    jobId: string,
    transition: JobTransition,
  ): Promise<CasResult<JobRecord>> {
    return this.casJob(batchId, jobId, transition);
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

  /** Adds what changed in a job's numbers to its batch's sums, in one atomic update. */
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
          ...conditionOf(deletableJob),
          ReturnValues: "ALL_OLD",
        }),
      );
      const record = toJob(out.Attributes ?? {});
      await this.countJobs(batchId, { [record.status]: -1, total: -1 });
      return { won: true, record };
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

  async putCancellation(record: CancellationRecord): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...cancellationKey(record.batchId, record.cancellationId),
          type: "cancellation",
          ...record,
        },
      }),
    );
  }

  async getCancellation(
    batchId: string,
    cancellationId: string,
  ): Promise<CancellationRecord | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: cancellationKey(batchId, cancellationId),
        ConsistentRead: true,
      }),
    );
    return out.Item ? (strip(out.Item) as unknown as CancellationRecord) : undefined;
  }

  async recordStragglers(
    batchId: string,
    jobIds: readonly string[],
    saved: CancelSavings,
  ): Promise<boolean> {
    return this.conditionally(
      new UpdateCommand({
        TableName: this.tableName,
        Key: batchKey(batchId),
        // A string set: each straggler leaves it with DELETE as its phase ends (an empty set is
        // no attribute at all, so none is written when there is no straggler).
        UpdateExpression:
          jobIds.length > 0
            ? "SET stragglers = :ids, cancelSaved = :saved, stillStopping = :set"
            : "SET stragglers = :ids, cancelSaved = :saved",
        ConditionExpression:
          "attribute_exists(pk) AND attribute_not_exists(stragglers) AND attribute_not_exists(quiescedAt)",
        ExpressionAttributeValues: {
          ":ids": [...jobIds],
          ":saved": saved,
          ...(jobIds.length > 0 ? { ":set": new Set(jobIds) } : {}),
        },
      }),
    );
  }

  async settleStraggler(batchId: string, jobId: string): Promise<number | undefined> {
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: batchKey(batchId),
          UpdateExpression: "DELETE stillStopping :job",
          ConditionExpression: "contains(stillStopping, :id)",
          ExpressionAttributeValues: { ":job": new Set([jobId]), ":id": jobId },
          ReturnValues: "UPDATED_NEW",
        }),
      );
      const left = out.Attributes?.stillStopping as Set<string> | undefined;
      return left?.size ?? 0;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async raiseCancelSignal(batchId: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: cancelSignalKey(batchId),
        UpdateExpression: "SET #type = :type ADD raised :one",
        ExpressionAttributeNames: { "#type": "type" },
        ExpressionAttributeValues: { ":type": "cancelSignal", ":one": 1 },
      }),
    );
  }

  async readCancelSignal(batchId: string): Promise<number> {
    // Eventually consistent on purpose: half the read units, and every running phase reads it
    // once per poll. A raise shows within about a second; the phase then reads its records strongly.
    const out = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: cancelSignalKey(batchId),
        ProjectionExpression: "raised",
      }),
    );
    return Number(out.Item?.raised ?? 0);
  }

  async putWebhook(batchId: string, webhook: Webhook): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: `BATCH#${batchId}`, sk: "WEBHOOK", type: "webhook", ...webhook },
      }),
    );
  }

  async getWebhook(batchId: string): Promise<Webhook | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: `BATCH#${batchId}`, sk: "WEBHOOK" },
        ConsistentRead: true,
      }),
    );
    return out.Item ? { url: String(out.Item.url), secret: String(out.Item.secret) } : undefined;
  }

  async putSelection(record: SelectionRecord): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...selectionKey(record.batchId, record.token), type: "selection", ...record },
      }),
    );
  }

  async getSelection(batchId: string, token: string): Promise<SelectionRecord | undefined> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: selectionKey(batchId, token),
        ConsistentRead: true,
      }),
    );
    // The time-to-live attribute is the record's own expiresAt: keep it.
    return out.Item
      ? ({
          ...strip(out.Item),
          expiresAt: Number(out.Item.expiresAt),
        } as unknown as SelectionRecord)
      : undefined;
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

  private async casBatch(
    batchId: string,
    transition: BatchTransition,
  ): Promise<CasResult<BatchRecord>> {
    const out = await this.update(batchKey(batchId), transition);
    if (out) return { won: true, record: toBatch(out) };
    return { won: false, current: await this.getBatch(batchId) };
  }

  private async casJob(
    batchId: string,
    jobId: string,
    transition: JobTransition,
  ): Promise<CasResult<JobRecord>> {
    const out = await this.update(jobKey(batchId, jobId), transition);
    if (!out) return { won: false, current: await this.getJob(batchId, jobId) };
    // statusBefore is written by transitions that set a status only: an older one is stale.
    const setsStatus = (transition.set as { status?: JobStatus } | undefined)?.status;
    const before = setsStatus ? (out.statusBefore as JobStatus | undefined) : undefined;
    const record = toJob(out);
    if (before && before !== record.status)
      await this.countJobs(batchId, { [before]: -1, [record.status]: 1 });
    return { won: true, record };
  }

  /**
   * Adds `changes` to the batch's job counts, if it keeps them. Not atomic with the job's own
   * write, and a failure here does not fail it: a count left off is recounted when the batch ends.
   */
  private async countJobs(
    batchId: string,
    changes: Partial<Record<keyof JobCounts, number>>,
  ): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, number> = { ":zero": 0 };
    const sets = Object.entries(changes).map(([field, by], i) => {
      names[`#c${i}`] = field;
      values[`:c${i}`] = by ?? 0;
      return `jobCounts.#c${i} = if_not_exists(jobCounts.#c${i}, :zero) + :c${i}`;
    });
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: batchKey(batchId),
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: "attribute_exists(jobCounts)",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch {
      // An older batch keeps no counts; any other failure is repaired by the recount at the end.
    }
  }

  async setJobCounts(batchId: string, counts: JobCounts): Promise<void> {
    await this.conditionally(
      new UpdateCommand({
        TableName: this.tableName,
        Key: batchKey(batchId),
        UpdateExpression: "SET jobCounts = :counts",
        ConditionExpression: "attribute_exists(pk)",
        ExpressionAttributeValues: { ":counts": counts },
      }),
    );
  }

  async listActiveJobs(
    batchId: string,
    status: "queued" | "running",
    limit: number,
  ): Promise<JobRecord[]> {
    const items = await this.queryAll(
      {
        IndexName: ACTIVE_INDEX,
        KeyConditionExpression: "activeOf = :batch AND begins_with(activeKey, :status)",
        ExpressionAttributeValues: { ":batch": batchId, ":status": `${status}#` },
      },
      limit,
    );
    return items.map(toJob);
  }

  async listJobsAfter(
    batchId: string,
    afterJobId: string | undefined,
    limit: number,
  ): Promise<JobRecord[]> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :job)",
        ExpressionAttributeValues: { ":pk": `BATCH#${batchId}`, ":job": "JOB#" },
        Limit: limit,
        ConsistentRead: true,
        ...(afterJobId ? { ExclusiveStartKey: jobKey(batchId, afterJobId) } : {}),
      }),
    );
    return (out.Items ?? []).map(toJob);
  }

  async listAudit(batchId: string): Promise<AuditEntry[]> {
    const items = await this.queryAll({
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :audit)",
      ExpressionAttributeValues: { ":pk": `BATCH#${batchId}`, ":audit": "AUDIT#" },
      ConsistentRead: true,
    });
    return items.map(toAudit);
  }

  /** One transition as a conditional UpdateItem; undefined when its guard did not hold. */
  private async update(
    key: Record<string, string>,
    transition: BatchTransition | JobTransition,
  ): Promise<Record<string, unknown> | undefined> {
    const guard = conditionOf(transition.when);
    const names: Record<string, string> = { ...guard.ExpressionAttributeNames };
    const values: Record<string, unknown> = { ...guard.ExpressionAttributeValues };
    const sets: string[] = [];
    let n = 0;
    const assign = (fields: object | undefined, ifMissing: boolean) => {
      for (const [field, value] of Object.entries(fields ?? {})) {
        names[`#f${n}`] = field;
        values[`:v${n}`] = value;
        sets.push(ifMissing ? `#f${n} = if_not_exists(#f${n}, :v${n})` : `#f${n} = :v${n}`);
        n++;
      }
    };
    assign(transition.set, false);
    assign(transition.setIfMissing, true);
    if (transition.phase) {
      names["#phases"] = "phases";
      names["#phase"] = transition.phase.name;
      values[":phaseRecord"] = transition.phase.record;
      sets.push("#phases.#phase = :phaseRecord");
    }
    names["#updatedAt"] = "updatedAt";
    values[":updatedAt"] = new Date().toISOString();
    sets.push("#updatedAt = :updatedAt");
    const removes = (transition.remove ?? []).map((field, i) => {
      names[`#r${i}`] = field;
      return `#r${i}`;
    });
    const status = (transition.set as { status?: JobStatus } | undefined)?.status;
    if (key.sk?.startsWith("JOB#") && status) {
      // The status it had (operands are read before the update): the batch's counts follow it.
      names["#statusNow"] = "status";
      sets.push("statusBefore = #statusNow");
      // In the active-jobs index while it has not ended.
      if (isJobTerminal(status)) removes.push("activeOf", "activeKey");
      else {
        values[":activeOf"] = String(key.pk).slice("BATCH#".length);
        values[":activeKey"] = activeKeyOf(status, key.sk.slice("JOB#".length));
        sets.push("activeOf = :activeOf", "activeKey = :activeKey");
      }
    }
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: `SET ${sets.join(", ")}${removes.length > 0 ? ` REMOVE ${removes.join(", ")}` : ""}`,
          ConditionExpression: guard.ConditionExpression,
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

/** A transition's guard as a DynamoDB condition: the record exists, and the guard holds. */
function conditionOf(guard: Guard<string>): {
  ConditionExpression: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
} {
  const clauses = [`attribute_exists(${STATE_TABLE.partitionKey})`];
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  if (guard.statusIn) {
    names["#status"] = "status";
    const list = guard.statusIn.map((status, i) => {
      values[`:status${i}`] = status;
      return `:status${i}`;
    });
    clauses.push(`#status IN (${list.join(", ")})`);
  }
  for (const field of guard.without ?? []) clauses.push(`attribute_not_exists(${field})`);
  if (guard.executionIs !== undefined) {
    values[":guardExecution"] = guard.executionIs;
    clauses.push("executionArn = :guardExecution");
  }
  if (guard.outsideCommit) {
    values[":fenceDown"] = false;
    clauses.push("(attribute_not_exists(inCommit) OR inCommit = :fenceDown)");
  }
  if (guard.phaseIs) {
    Object.assign(names, {
      "#guardPhases": "phases",
      "#guardPhase": guard.phaseIs.name,
      "#guardStatus": "status",
      "#guardAttempt": "attempt",
    });
    values[":guardPhaseStatus"] = guard.phaseIs.status;
    values[":guardAttempt"] = guard.phaseIs.attempt;
    clauses.push(
      "#guardPhases.#guardPhase.#guardStatus = :guardPhaseStatus AND #guardPhases.#guardPhase.#guardAttempt = :guardAttempt",
    );
  }
  return {
    ConditionExpression: clauses.join(" AND "),
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}

const STORAGE_FIELDS = [
  "pk",
  "sk",
  "type",
  "gsi1pk",
  "gsi1sk",
  "activeOf",
  "activeKey",
  "statusBefore",
  "updatedAt",
  "expiresAt",
];

function strip(item: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...item };
  for (const field of STORAGE_FIELDS) delete copy[field];
  return copy;
}

/** A batch as stored; its `stillStopping` string set is read as a list. */
function toBatch(item: Record<string, unknown>): BatchRecord {
  const batch = strip(item);
  if (batch.stillStopping instanceof Set) batch.stillStopping = [...batch.stillStopping].sort();
  return batch as unknown as BatchRecord;
}
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
