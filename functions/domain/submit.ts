import { createHash, randomBytes } from "node:crypto";
import type { BatchStore } from "./batch-store";
import {
  BatchNotFoundError,
  ExecutionStartError,
  IdempotencyConflictError,
  ValidationError,
} from "./errors";
import type { BatchRecord, BatchSource, JobInput, JobRecord } from "./model";
import type { WorkflowPort } from "./ports";
import { DEFAULT_CONCURRENCY, type SubmitBatchBody } from "./schemas";

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

/** Normalises jobs ("RY.TO" or {name, input}) and rejects duplicate names, which would make cancel-by-name ambiguous. */
export function normalizeJobs(jobs: SubmitBatchBody["jobs"]): { name: string; input: JobInput }[] {
  const seen = new Map<string, number>();
  return jobs.map((job, index) => {
    const normalized =
      typeof job === "string"
        ? { name: job, input: {} }
        : { name: job.name, input: job.input ?? {} };
    const first = seen.get(normalized.name);
    if (first !== undefined) {
      throw new ValidationError(
        `jobs[${index}]: name '${normalized.name}' is also jobs[${first}]; job names must be unique within a batch`,
      );
    }
    seen.set(normalized.name, index);
    return normalized;
  });
}

export class SubmitService {
  constructor(
    private readonly store: BatchStore,
    private readonly workflow: WorkflowPort,
    private readonly executionArnFor: (batchId: string) => string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async submit(
    body: SubmitBatchBody,
    options: { idempotencyKey?: string; source?: BatchSource } = {},
  ): Promise<SubmitResponse> {
    const jobs = normalizeJobs(body.jobs);
    const at = this.now();
    const batchId = newBatchId(at);

    if (options.idempotencyKey) {
      const requestHash = createHash("sha256").update(JSON.stringify(body)).digest("hex");
      const claim = await this.store.claimIdempotency(
        { key: options.idempotencyKey, batchId, requestHash },
        Math.floor(at.getTime() / 1000),
      );
      if (!claim.won) {
        const existing = claim.current;
        if (existing && existing.requestHash !== requestHash) {
          throw new IdempotencyConflictError(
            `Idempotency-Key '${options.idempotencyKey}' was already used for a different request (batch ${existing.batchId})`,
          );
        }
        if (existing) return this.replay(existing.batchId);
      }
    }

    const createdAt = at.toISOString();
    const batch: BatchRecord = {
      batchId,
      name: body.name ?? `batch of ${jobs.length} job${jobs.length === 1 ? "" : "s"}`,
      status: "queued",
      executionArn: this.executionArnFor(batchId),
      total: jobs.length,
      concurrency: body.concurrency ?? DEFAULT_CONCURRENCY,
      createdAt,
      source: options.source ?? { kind: "api" },
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
    await this.store.createBatch(batch, records);

    const input: ExecutionInput = {
      batchId,
      concurrency: batch.concurrency,
      jobs: records.map((job) => ({ jobId: job.jobId })),
    };
    try {
      await this.workflow.startExecution(batchId, input);
    } catch (error) {
      const cause = { name: (error as Error).name, message: (error as Error).message };
      // Nothing half-done: the batch is recorded as failed to start, with the reason.
      await this.store.finishBatch(batchId, "failed", this.now().toISOString(), { error: cause });
      for (const job of records)
        await this.store.failJob(batchId, job.jobId, cause, this.now().toISOString());
      throw new ExecutionStartError(`Batch ${batchId} could not be started: ${cause.message}`, {
        batchId,
      });
    }
    return submitResponse(batch, records);
  }

  private async replay(batchId: string): Promise<SubmitResponse> {
    const loaded = await this.store.loadBatch(batchId);
    if (!loaded) throw new BatchNotFoundError(batchId);
    return { ...submitResponse(loaded.batch, loaded.jobs), idempotentReplay: true };
  }
}

function submitResponse(batch: BatchRecord, jobs: readonly JobRecord[]): SubmitResponse {
  return {
    batchId: batch.batchId,
    executionArn: batch.executionArn,
    status: batch.status,
    name: batch.name,
    total: batch.total,
    concurrency: batch.concurrency,
    jobs: jobs.map((job) => ({ jobId: job.jobId, name: job.name })),
  };
}
