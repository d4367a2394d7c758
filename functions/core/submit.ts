import { randomBytes } from "node:crypto";
import {
  ExecutionStartError,
  IdempotencyConflictError,
  IdempotencyInProgressError,
  ValidationError,
} from "./errors.ts";
import {
  type BatchRecord,
  type BatchSource,
  type JobInput,
  type JobRecord,
  NO_JOBS,
  nameKey,
} from "./model.ts";
import type { BatchStore, ExecutionEngine, IdempotencyRecord } from "./ports.ts";
import {
  checkJobInputs,
  DEFAULT_CONCURRENCY,
  type InputCheck,
  requestHashOf,
  type SubmitBatchBody,
} from "./schemas.ts";
import { batchTransitions, jobTransitions } from "./transitions.ts";

export interface SubmitResponse {
  readonly batchId: string;
  readonly executionArn: string;
  readonly status: BatchRecord["status"];
  readonly name: string;
  readonly total: number;
  readonly concurrency: number;
  readonly jobs: { jobId: string; name: string }[];
  readonly idempotentReplay?: boolean;
}

/** The small execution input: ids only, job inputs stay in DynamoDB (256 KiB state limit). */
export interface ExecutionInput {
  readonly batchId: string;
  readonly concurrency: number;
  readonly jobs: { readonly jobId: string }[];
}

export const newBatchId = (now: Date): string =>
  `b-${now.getTime().toString(36)}-${randomBytes(4).toString("hex")}`;

export const jobIdFor = (index: number): string => `job-${String(index + 1).padStart(5, "0")}`;

/**
 * Normalises jobs ("RY.TO" or {name, input}) and rejects names that are equal, or equal once
 * Unicode-normalised (NFKC): either would make cancel-by-name ambiguous.
 */
export function normalizeJobs(jobs: SubmitBatchBody["jobs"]): { name: string; input: JobInput }[] {
  const seen = new Map<string, number>();
  return jobs.map((job, index) => {
    const normalized =
      typeof job === "string"
        ? { name: job, input: {} }
        : { name: job.name, input: job.input ?? {} };
    const key = nameKey(normalized.name);
    const first = seen.get(key);
    if (first !== undefined) {
      const same = nameOf(jobs[first]) === normalized.name;
      throw new ValidationError(
        `jobs[${index}]: name '${normalized.name}' is ${same ? "also" : "the same after Unicode normalisation as"} jobs[${first}]; job names must be unique within a batch`,
      );
    }
    seen.set(key, index);
    return normalized;
  });
}

const nameOf = (job: SubmitBatchBody["jobs"][number] | undefined) =>
  typeof job === "string" ? job : job?.name;

/** The execution input of a batch: derived from the batch record alone, so any retry sends the same. */
export function executionInputOf(batch: Pick<BatchRecord, "batchId" | "concurrency" | "total">) {
  const input: ExecutionInput = {
    batchId: batch.batchId,
    concurrency: batch.concurrency,
    jobs: Array.from({ length: batch.total }, (_, index) => ({ jobId: jobIdFor(index) })),
  };
  return input;
}

export interface SubmitServiceOptions {
  /**
   * How long a request that finds its Idempotency-Key claimed waits for that batch to appear (or
   * for the claim to go stale). Less than the submit function's timeout. @default 10_000
   */
  readonly claimWaitMs?: number;
  /**
   * A claim not renewed for this long was abandoned (its request died): the creating request
   * renews it before every write, and stops if another request took it over. @default 8_000
   */
  readonly claimStaleMs?: number;
  /** The pipeline's and its phases' input schemas, checked before anything is written. */
  readonly inputChecks?: readonly InputCheck[];
  /** Jobs running at once when a submit does not say. @default 10 */
  readonly defaultConcurrency?: number;
  readonly now?: () => Date;
}

/**
 * Submission, recoverable at every step: claim the Idempotency-Key, write the jobs, then the batch
 * record, then start the execution named by the batch id. A replay of the same request finishes
 * whatever an earlier attempt left undone; the sweep (sweep.ts) starts any batch whose execution
 * never started.
 */
export class SubmitService {
  private readonly now: () => Date;
  private readonly claimWaitMs: number;
  private readonly claimStaleMs: number;
  private readonly inputChecks: readonly InputCheck[];
  private readonly defaultConcurrency: number;

  constructor(
    private readonly store: BatchStore,
    private readonly engine: ExecutionEngine,
    options: SubmitServiceOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
    // The claim is a lease the creating request renews as it writes (at least every 2 s): one not
    // renewed for 8 s belongs to a request that died. A replay waits at most 10 s, within its time.
    this.claimWaitMs = options.claimWaitMs ?? 10_000;
    this.claimStaleMs = options.claimStaleMs ?? 8_000;
    this.inputChecks = options.inputChecks ?? [];
    this.defaultConcurrency = options.defaultConcurrency ?? DEFAULT_CONCURRENCY;
  }

  async submit(
    body: SubmitBatchBody,
    options: { idempotencyKey?: string; source?: BatchSource } = {},
  ): Promise<SubmitResponse> {
    const jobs = normalizeJobs(body.jobs);
    checkJobInputs(jobs, this.inputChecks);
    const at = this.now();
    if (!options.idempotencyKey) return this.create(newBatchId(at), at, body, jobs, options.source);

    const key = options.idempotencyKey;
    const requestHash = requestHashOf(body);
    const claim: IdempotencyRecord = {
      key,
      batchId: newBatchId(at),
      requestHash,
      createdAt: at.toISOString(),
      claimedAt: at.getTime(),
    };
    const deadline = at.getTime() + this.claimWaitMs;
    for (let attempt = 0; ; attempt++) {
      const result = await this.store.claimIdempotency(claim, Math.floor(at.getTime() / 1000));
      if (result.won) return this.create(claim.batchId, at, body, jobs, options.source, claim);
      const existing = result.current;
      if (!existing) continue; // expired between the claim and the read: claim again

      const batch = await this.store.getBatch(existing.batchId);
      if (existing.requestHash !== requestHash) {
        if (batch || !this.isStale(existing)) {
          throw new IdempotencyConflictError(
            `Idempotency-Key '${key}' was already used for a different request (batch ${existing.batchId})`,
          );
        }
      } else if (batch) {
        return this.replay(batch, jobs);
      }
      if (!batch && this.isStale(existing)) {
        // The request that claimed the key never created its batch: take the claim over. The same
        // request keeps the claimed batch id; a different one gets its own.
        const same = existing.requestHash === requestHash;
        const takeover: IdempotencyRecord = same
          ? { ...existing, claimedAt: this.now().getTime() }
          : { ...claim, claimedAt: this.now().getTime() };
        if (await this.store.takeOverIdempotency(takeover, existing)) {
          const createdAt = same ? new Date(existing.createdAt) : at;
          return this.create(takeover.batchId, createdAt, body, jobs, options.source, takeover);
        }
        continue;
      }
      // The request that claimed the key is still creating the batch: wait for it.
      if (this.now().getTime() >= deadline) {
        throw new IdempotencyInProgressError(
          `a request with Idempotency-Key '${key}' is still creating batch ${existing.batchId}; retry shortly`,
          { batchId: existing.batchId },
        );
      }
      await sleep(Math.min(50 * 2 ** attempt, 500));
    }
  }

  /**
   * Renews an Idempotency-Key lease (at most every 2 s), so a replay can tell a live request from
   * a dead one; throws if another request took the key over, since the batch is then its work.
   */
  private leaseRenewer(lease: IdempotencyRecord | undefined): () => Promise<void> {
    if (!lease) return async () => undefined;
    let renewedAt = lease.claimedAt;
    return async () => {
      const now = this.now().getTime();
      if (now - renewedAt < 2_000) return;
      if (!(await this.store.renewIdempotency(lease.key, lease.batchId, renewedAt, now)))
        throw new IdempotencyInProgressError(
          `Idempotency-Key '${lease.key}' was taken over by another request while this one was slow; it is creating batch ${lease.batchId}`,
          { batchId: lease.batchId },
        );
      renewedAt = now;
    };
  }

  private isStale(claim: IdempotencyRecord): boolean {
    return this.now().getTime() - claim.claimedAt > this.claimStaleMs;
  }

  private async create(
    batchId: string,
    at: Date,
    body: SubmitBatchBody,
    jobs: readonly { name: string; input: JobInput }[],
    source: BatchSource | undefined,
    lease?: IdempotencyRecord,
  ): Promise<SubmitResponse> {
    const createdAt = at.toISOString();
    const batch: BatchRecord = {
      batchId,
      name: body.name ?? `batch of ${jobs.length} job${jobs.length === 1 ? "" : "s"}`,
      status: "queued",
      executionArn: this.engine.executionArnOf(batchId),
      total: jobs.length,
      jobCounts: { ...NO_JOBS, total: jobs.length, queued: jobs.length },
      concurrency: body.concurrency ?? this.defaultConcurrency,
      createdAt,
      source: source ?? { kind: "api" },
      ...(body.webhook ? { webhookUrl: body.webhook.url } : {}),
    };
    const records: JobRecord[] = jobs.map((job, index) => ({
      batchId,
      jobId: jobIdFor(index),
      name: job.name,
      input: job.input,
      status: "queued",
      phases: {},
      createdAt,
    }));
    const renew = this.leaseRenewer(lease);
    // Kept apart from the batch, so no read of the batch ever carries the secret.
    if (body.webhook) await this.store.putWebhook(batchId, body.webhook);
    await this.store.createBatch(batch, records, renew);

    try {
      await renew();
      await this.engine.startExecution(batchId, executionInputOf(batch));
    } catch (error) {
      const cause = { name: (error as Error).name, message: (error as Error).message };
      // Nothing half-done: the batch is recorded as failed to start, with the reason.
      const failedAt = this.now().toISOString();
      await this.store.transitionBatch(batchId, batchTransitions.finish("failed", failedAt, cause));
      for (const job of records)
        await this.store.transitionJob(batchId, job.jobId, jobTransitions.fail(cause, failedAt));
      throw new ExecutionStartError(`Batch ${batchId} could not be started: ${cause.message}`, {
        batchId,
      });
    }
    return submitResponse(batch, jobs);
  }

  /** The answer the first request gave; a batch still queued has its execution started (idempotent). */
  private async replay(
    batch: BatchRecord,
    jobs: readonly { name: string }[],
  ): Promise<SubmitResponse> {
    if (batch.status === "queued")
      await this.engine.startExecution(batch.batchId, executionInputOf(batch));
    return { ...submitResponse(batch, jobs), idempotentReplay: true };
  }
}

function submitResponse(batch: BatchRecord, jobs: readonly { name: string }[]): SubmitResponse {
  return {
    batchId: batch.batchId,
    executionArn: batch.executionArn,
    status: batch.status,
    name: batch.name,
    total: batch.total,
    concurrency: batch.concurrency,
    jobs: jobs.map((job, index) => ({ jobId: jobIdFor(index), name: job.name })),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
