/**
 * The core's ports in plain memory: the batch store applies the same transitions (guards and
 * all) that the DynamoDB adapter compiles into condition expressions, so the core's rules can be
 * exercised in milliseconds. The adapters themselves are tested against the emulators.
 */
import type { ExecutionStatusChange } from "../../functions/core/execution.ts";
import type {
  AuditEntry,
  BatchRecord,
  BatchStatus,
  CancelIntent,
  CancelSavings,
  JobCounts,
  JobRecord,
} from "../../functions/core/model.ts";
import { outputKeys } from "../../functions/core/output-keys.ts";
import type {
  BatchEvents,
  BatchPage,
  BatchStore,
  CasResult,
  ExecutionEngine,
  IdempotencyRecord,
  OutputStore,
  ReconcileQueue,
  Webhook,
} from "../../functions/core/ports.ts";
import type { BatchQuiesced } from "../../functions/core/quiesce.ts";
import type { CancellationRecord } from "../../functions/core/receipts.ts";
import {
  numbersDelta,
  type PhaseOutputDocument,
  type SavedCheckpoint,
} from "../../functions/core/results.ts";
import type { SelectionRecord } from "../../functions/core/selection.ts";
import {
  applyTransition,
  type BatchTransition,
  deletableJob,
  guardHolds,
  type JobTransition,
} from "../../functions/core/transitions.ts";

/** Records are copied in and out, as a database would: nobody holds a reference to the stored one. */
const copy = <T>(value: T): T => structuredClone(value);

export class MemoryBatchStore implements BatchStore {
  readonly batches = new Map<string, BatchRecord>();
  /** Jobs by batch, in job order. */
  readonly jobs = new Map<string, Map<string, JobRecord>>();
  readonly audit = new Map<string, AuditEntry[]>();
  readonly idempotency = new Map<string, IdempotencyRecord & { expiresAt: number }>();
  /** Every transition that won, in order: the history a property test reads. */
  readonly history: { readonly key: string; readonly name: string; readonly after: unknown }[] = [];

  async createBatch(
    batch: BatchRecord,
    jobs: readonly JobRecord[],
    beforeEachWrite: () => Promise<void> = async () => undefined,
  ): Promise<void> {
    await beforeEachWrite();
    const byId = this.jobs.get(batch.batchId) ?? new Map<string, JobRecord>();
    for (const job of jobs)
      if (!byId.has(job.jobId))
        byId.set(job.jobId, copy({ itemCounts: {}, itemChunks: {}, ...job }));
    this.jobs.set(batch.batchId, byId);
    await beforeEachWrite();
    if (!this.batches.has(batch.batchId)) this.batches.set(batch.batchId, copy(batch));
  }

  async getBatch(batchId: string): Promise<BatchRecord | undefined> {
    const batch = this.batches.get(batchId);
    return batch && copy(batch);
  }

  async getJob(batchId: string, jobId: string): Promise<JobRecord | undefined> {
    const job = this.jobs.get(batchId)?.get(jobId);
    return job && copy(job);
  }

  async loadBatch(batchId: string) {
    const batch = this.batches.get(batchId);
    if (!batch) return undefined;
    return {
      batch: copy(batch),
      jobs: await this.listJobs(batchId),
      audit: copy(this.audit.get(batchId) ?? []),
    };
  }

  async listJobs(batchId: string): Promise<JobRecord[]> {
    return [...(this.jobs.get(batchId)?.values() ?? [])].map(copy);
  }

  async listJobStates(batchId: string): Promise<JobRecord[]> {
    return (await this.listJobs(batchId)).map((job) => ({ ...job, phases: {} }));
  }

  async listJobsPage(
    batchId: string,
    options: { limit: number; cursor?: string; processedOnly?: boolean },
  ): Promise<{ jobs: JobRecord[]; nextCursor?: string }> {
    const all = await this.listJobs(batchId);
    const start = options.cursor ? all.findIndex((job) => job.jobId === options.cursor) + 1 : 0;
    const page = all.slice(start, start + options.limit);
    const last = page.at(-1);
    const jobs = options.processedOnly
      ? page.filter((job) => job.numbers?.jobsProcessed === 1)
      : page;
    return start + options.limit < all.length && last ? { jobs, nextCursor: last.jobId } : { jobs };
  }

  async listBatches(options: {
    status?: BatchStatus;
    limit: number;
    cursor?: string;
  }): Promise<BatchPage> {
    const newest = [...this.batches.values()]
      .filter((batch) => !options.status || batch.status === options.status)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return { batches: newest.slice(0, options.limit).map(copy) };
  }

  async listBatchesIn(
    statuses: readonly BatchStatus[],
    window: { createdAfter: string; createdBefore: string },
  ): Promise<BatchRecord[]> {
    return [...this.batches.values()]
      .filter(
        (batch) =>
          statuses.includes(batch.status) &&
          batch.createdAt >= window.createdAfter &&
          batch.createdAt <= window.createdBefore,
      )
      .map(copy);
  }

  async transitionBatch(
    batchId: string,
    transition: BatchTransition,
  ): Promise<CasResult<BatchRecord>> {
    const current = this.batches.get(batchId);
    if (!current || !guardHolds(transition.when, current))
      return { won: false, current: current && copy(current) };
    const next = applyTransition(current, copy(transition));
    this.batches.set(batchId, next);
    this.history.push({ key: batchId, name: transition.name, after: copy(next) });
    return { won: true, record: copy(next) };
  }

  async transitionJob(
    batchId: string,
    jobId: string,
    transition: JobTransition,
  ): Promise<CasResult<JobRecord>> {
    const jobs = this.jobs.get(batchId);
    const current = jobs?.get(jobId);
    if (!jobs || !current || !guardHolds(transition.when, current))
      return { won: false, current: current && copy(current) };
    const next = applyTransition(current, copy(transition));
    jobs.set(jobId, next);
    this.history.push({ key: `${batchId}/${jobId}`, name: transition.name, after: copy(next) });
    if (next.status !== current.status)
      this.countJobs(batchId, { [current.status]: -1, [next.status]: 1 });
    return { won: true, record: copy(next) };
  }

  /** As the DynamoDB store: a status change moves the job from one of its batch's counts to another. */
  private countJobs(batchId: string, changes: Partial<Record<keyof JobCounts, number>>) {
    const batch = this.batches.get(batchId);
    if (!batch?.jobCounts) return;
    const counts = { ...batch.jobCounts };
    for (const [field, by] of Object.entries(changes)) counts[field as keyof JobCounts] += by ?? 0;
    this.batches.set(batchId, { ...batch, jobCounts: counts });
  }

  async setJobCounts(batchId: string, counts: JobCounts): Promise<void> {
    const batch = this.batches.get(batchId);
    if (batch) this.batches.set(batchId, { ...batch, jobCounts: copy(counts) });
  }

  async listJobsAfter(
    batchId: string,
    afterJobId: string | undefined,
    limit: number,
  ): Promise<JobRecord[]> {
    const all = await this.listJobs(batchId);
    const start = afterJobId ? all.filter((job) => job.jobId <= afterJobId).length : 0;
    return all.slice(start, start + limit);
  }

  async listActiveJobs(
    batchId: string,
    status: "queued" | "running",
    limit: number,
  ): Promise<JobRecord[]> {
    return (await this.listJobs(batchId)).filter((job) => job.status === status).slice(0, limit);
  }

  async listAudit(batchId: string): Promise<AuditEntry[]> {
    return copy(this.audit.get(batchId) ?? []);
  }

  async deleteFinishedJob(batchId: string, jobId: string): Promise<CasResult<JobRecord>> {
    const current = this.jobs.get(batchId)?.get(jobId);
    if (!current || !guardHolds(deletableJob, current))
      return { won: false, current: current && copy(current) };
    this.jobs.get(batchId)?.delete(jobId);
    this.countJobs(batchId, { [current.status]: -1, total: -1 });
    return { won: true, record: copy(current) };
  }

  async reserveItemChunk(
    batchId: string,
    jobId: string,
    phase: string,
    items: number,
  ): Promise<number> {
    const job = this.jobs.get(batchId)?.get(jobId);
    if (!job) throw new Error(`no job ${jobId} in batch ${batchId}`);
    const chunk = (job.itemChunks?.[phase] ?? 0) + 1;
    this.jobs.get(batchId)?.set(jobId, {
      ...job,
      itemChunks: { ...job.itemChunks, [phase]: chunk },
      itemCounts: { ...job.itemCounts, [phase]: (job.itemCounts?.[phase] ?? 0) + items },
    });
    return chunk;
  }

  async addToTotals(
    batchId: string,
    previous: Readonly<Record<string, number>> | undefined,
    next: Readonly<Record<string, number>>,
  ): Promise<void> {
    const batch = this.batches.get(batchId);
    if (!batch) throw new Error(`no batch ${batchId}`);
    const totals = { ...batch.totals };
    for (const [name, change] of Object.entries(numbersDelta(previous, next)))
      totals[name] = (totals[name] ?? 0) + change;
    this.batches.set(batchId, { ...batch, totals });
  }

  async setTotals(batchId: string, totals: Record<string, number>): Promise<void> {
    const batch = this.batches.get(batchId);
    if (!batch) throw new Error(`no batch ${batchId}`);
    this.batches.set(batchId, { ...batch, totals: copy(totals) });
  }

  async appendAudit(batchId: string, entry: AuditEntry): Promise<void> {
    this.audit.set(batchId, [...(this.audit.get(batchId) ?? []), copy(entry)]);
  }

  readonly webhooks = new Map<string, Webhook>();

  async recordStragglers(
    batchId: string,
    jobIds: readonly string[],
    saved: CancelSavings,
  ): Promise<boolean> {
    const batch = this.batches.get(batchId);
    if (!batch || batch.stragglers || batch.quiescedAt) return false;
    this.batches.set(batchId, {
      ...batch,
      stragglers: [...jobIds],
      cancelSaved: copy(saved),
      ...(jobIds.length > 0 ? { stillStopping: [...jobIds].sort() } : {}),
    });
    return true;
  }

  async settleStraggler(batchId: string, jobId: string): Promise<number | undefined> {
    const batch = this.batches.get(batchId);
    if (!batch?.stillStopping?.includes(jobId)) return undefined;
    const { stillStopping, ...rest } = batch;
    const left = stillStopping.filter((id) => id !== jobId);
    this.batches.set(batchId, left.length > 0 ? { ...rest, stillStopping: left } : rest);
    return left.length;
  }

  /** Times each batch's cancel signal was raised. */
  readonly cancelSignals = new Map<string, number>();

  async raiseCancelSignal(batchId: string): Promise<void> {
    this.cancelSignals.set(batchId, (this.cancelSignals.get(batchId) ?? 0) + 1);
  }

  async readCancelSignal(batchId: string): Promise<number> {
    return this.cancelSignals.get(batchId) ?? 0;
  }

  async putWebhook(batchId: string, webhook: Webhook): Promise<void> {
    this.webhooks.set(batchId, copy(webhook));
  }

  async getWebhook(batchId: string): Promise<Webhook | undefined> {
    const found = this.webhooks.get(batchId);
    return found && copy(found);
  }

  readonly cancellations = new Map<string, CancellationRecord>();
  readonly selections = new Map<string, SelectionRecord>();

  async putSelection(record: SelectionRecord): Promise<void> {
    this.selections.set(`${record.batchId}/${record.token}`, copy(record));
  }

  async getSelection(batchId: string, token: string) {
    const found = this.selections.get(`${batchId}/${token}`);
    return found && copy(found);
  }

  async putCancellation(record: CancellationRecord): Promise<void> {
    this.cancellations.set(`${record.batchId}/${record.cancellationId}`, copy(record));
  }

  async getCancellation(batchId: string, cancellationId: string) {
    const found = this.cancellations.get(`${batchId}/${cancellationId}`);
    return found && copy(found);
  }

  async getIdempotency(key: string): Promise<IdempotencyRecord | undefined> {
    const found = this.idempotency.get(key);
    if (!found) return undefined;
    const { expiresAt: _expiresAt, ...record } = found;
    return record;
  }

  async claimIdempotency(
    record: IdempotencyRecord,
    nowSeconds: number,
  ): Promise<CasResult<IdempotencyRecord>> {
    const existing = this.idempotency.get(record.key);
    if (existing && existing.expiresAt >= nowSeconds)
      return { won: false, current: await this.getIdempotency(record.key) };
    this.idempotency.set(record.key, { ...record, expiresAt: nowSeconds + 24 * 60 * 60 });
    return { won: true, record };
  }

  async renewIdempotency(
    key: string,
    batchId: string,
    previousClaimedAt: number,
    claimedAt: number,
  ): Promise<boolean> {
    const existing = this.idempotency.get(key);
    if (!existing || existing.batchId !== batchId || existing.claimedAt !== previousClaimedAt)
      return false;
    this.idempotency.set(key, { ...existing, claimedAt });
    return true;
  }

  async takeOverIdempotency(
    record: IdempotencyRecord,
    previous: IdempotencyRecord,
  ): Promise<boolean> {
    const existing = this.idempotency.get(record.key);
    if (
      !existing ||
      existing.batchId !== previous.batchId ||
      existing.claimedAt !== previous.claimedAt
    )
      return false;
    this.idempotency.set(record.key, { ...existing, ...record });
    return true;
  }
}

export class MemoryOutputStore implements OutputStore {
  readonly bucket = "memory";
  readonly objects = new Map<string, string>();

  uri(key: string): string {
    return `memory://${this.bucket}/${key}`;
  }

  async downloadUrl(key: string, expiresInSeconds: number): Promise<string> {
    return `${this.uri(key)}?expires=${expiresInSeconds}`;
  }

  async putJson(key: string, body: unknown): Promise<void> {
    this.objects.set(key, JSON.stringify(body));
  }

  getJson<T>(key: string): T | undefined {
    const text = this.objects.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  async putOutput(output: PhaseOutputDocument): Promise<string> {
    const key = outputKeys.output(output.batchId, output.jobId, output.phase);
    await this.putJson(key, output);
    return key;
  }

  async readOutput(batchId: string, jobId: string, phase: string) {
    return this.getJson<PhaseOutputDocument>(outputKeys.output(batchId, jobId, phase));
  }

  async readOutputs(batchId: string, jobId: string, phases: readonly string[]) {
    const found = await Promise.all(phases.map((phase) => this.readOutput(batchId, jobId, phase)));
    return found.filter((output): output is PhaseOutputDocument => output !== undefined);
  }

  async putCheckpoint(batchId: string, jobId: string, phase: string, checkpoint: SavedCheckpoint) {
    await this.putJson(outputKeys.checkpoint(batchId, jobId, phase), checkpoint);
  }

  async getCheckpoint(batchId: string, jobId: string, phase: string) {
    return this.getJson<SavedCheckpoint>(outputKeys.checkpoint(batchId, jobId, phase));
  }

  async putItems(
    batchId: string,
    jobId: string,
    phase: string,
    chunk: number,
    items: readonly unknown[],
  ) {
    await this.putJson(outputKeys.items(batchId, jobId, phase, chunk), items);
  }

  async readItems(
    batchId: string,
    jobId: string,
    phase: string,
    chunks: number,
    options: { offset: number; limit: number },
  ): Promise<{ items: unknown[]; next?: number }> {
    const all: unknown[] = [];
    for (let chunk = 1; chunk <= chunks; chunk++)
      all.push(...(this.getJson<unknown[]>(outputKeys.items(batchId, jobId, phase, chunk)) ?? []));
    const items = all.slice(options.offset, options.offset + options.limit);
    const next = options.offset + options.limit;
    return next < all.length ? { items, next } : { items };
  }
}

export const executionArnFor = (name: string) =>
  `arn:aws:states:us-east-1:123456789012:execution:test:${name}`;

/** An execution engine that records what the core asked of it, and runs nothing. */
export class RecordingEngine implements ExecutionEngine {
  readonly started: { name: string; input: unknown }[] = [];
  readonly stopped: { executionArn: string; error: string; cause: string }[] = [];
  /** Ended executions, by ARN, as a test sets them. */
  readonly ended = new Map<string, ExecutionStatusChange>();
  failNextStart?: Error;

  executionArnOf(name: string): string {
    return executionArnFor(name);
  }

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

/** Batch events kept in order, as a test reads them. */
export class MemoryBatchEvents implements BatchEvents {
  readonly quiesced: BatchQuiesced[] = [];

  async publishQuiesced(event: BatchQuiesced): Promise<void> {
    this.quiesced.push(copy(event));
  }
}

/** A reconcile queue that keeps what it was asked to deliver. */
export class MemoryReconcileQueue implements ReconcileQueue {
  readonly requests: { batch: BatchRecord; intent: CancelIntent }[] = [];

  async requestReconcile(batch: BatchRecord, intent: CancelIntent): Promise<void> {
    this.requests.push({ batch: copy(batch), intent: copy(intent) });
  }
}
