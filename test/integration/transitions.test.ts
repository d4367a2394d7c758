import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchRecord, CancelIntent, JobRecord } from "../../functions/core/model.ts";
import type { BatchStore } from "../../functions/core/ports.ts";
import {
  type BatchTransition,
  batchTransitions,
  type JobTransition,
  jobTransitions,
} from "../../functions/core/transitions.ts";
import { type LocalAws, seedBatch, startLocalAws } from "../helpers/local-aws.ts";
import { MemoryBatchStore } from "../helpers/memory-ports.ts";

// The DynamoDB adapter compiles each transition's guard into a condition expression; the in-memory
// store evaluates it directly. The core's rules are tested on the second, so the two must agree.

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => aws?.close());

const at = "2026-11-23T12:00:00.000Z";
const intent: CancelIntent = { requestedAt: at, by: "test", reason: "wrong batch", scope: "job" };
const phaseRecord = { status: "succeeded" as const, startedAt: at, endedAt: at, attempt: 1 };

const jobStates: Record<string, Partial<JobRecord>> = {
  queued: { status: "queued" },
  "queued with a cancel intent": { status: "queued", cancel: intent },
  running: { status: "running", phase: "Ingest" },
  "running its final phase": { status: "running", phase: "Commit", inCommit: true },
  "running with the fence down": { status: "running", phase: "Digest", inCommit: false },
  succeeded: { status: "succeeded" },
  failed: { status: "failed" },
  cancelled: { status: "cancelled", cancel: intent },
  "with its final phase failed, awaiting a retry": {
    status: "running",
    phase: "Commit",
    inCommit: true,
    phases: { Commit: { status: "failed", startedAt: at, endedAt: at, attempt: 1 } },
  },
  "with its final phase retried": {
    status: "running",
    phase: "Commit",
    inCommit: true,
    phases: { Commit: { status: "running", startedAt: at, attempt: 2 } },
  },
};

const jobMoves: Record<string, JobTransition> = {
  cancelQueued: jobTransitions.cancelQueued(intent, at),
  cancelRunning: jobTransitions.cancelRunning(intent, at, "Ingest"),
  startPhase: jobTransitions.startPhase("Digest", false, at, 1),
  "startPhase (final)": jobTransitions.startPhase("Commit", true, at, 1),
  completePhase: jobTransitions.completePhase("Ingest", phaseRecord, { items: 1 }),
  succeed: jobTransitions.succeed("Commit", phaseRecord, { items: 1 }, at),
  abortPhase: jobTransitions.abortPhase("Ingest", { ...phaseRecord, status: "aborted" }, {}, at),
  recordPhaseFailure: jobTransitions.recordPhaseFailure("Ingest", phaseRecord, {}),
  fail: jobTransitions.fail({ name: "Boom", message: "it broke" }, at),
  setProgress: jobTransitions.setProgress({ phase: "Ingest", done: 1, total: 2, at }),
  failStrandedCommit: jobTransitions.failStrandedCommit(
    "Commit",
    1,
    { name: "StoppedBeforeRetry", message: "no retry" },
    at,
  ),
};

const batchStates: Record<string, Partial<BatchRecord>> = {
  queued: { status: "queued" },
  running: { status: "running" },
  "running with a cancel intent": { status: "running", cancel: { ...intent, scope: "batch" } },
  cancelling: { status: "cancelling", cancel: { ...intent, scope: "batch" } },
  "cancelled with its summary": {
    status: "cancelled",
    cancel: { ...intent, scope: "batch" },
    cancelSummary: { jobsCancelled: 1, inCommit: 0, total: 1, recordedAt: at },
  },
  "cancelled without a summary": { status: "cancelled", cancel: { ...intent, scope: "batch" } },
  succeeded: { status: "succeeded" },
  completed_with_errors: { status: "completed_with_errors" },
  failed: { status: "failed" },
};

const batchMoves: Record<string, BatchTransition> = {
  claimCancel: batchTransitions.claimCancel({ ...intent, scope: "batch" }),
  recordCancelSummary: batchTransitions.recordCancelSummary({
    jobsCancelled: 0,
    inCommit: 0,
    total: 1,
    recordedAt: at,
  }),
  markRunning: batchTransitions.markRunning(at),
  finish: batchTransitions.finish("cancelled", at),
  finishUncancelled: batchTransitions.finishUncancelled("succeeded", at),
};

/** A record as a store hands it back, without the time of its last write. */
function comparable(record: object | undefined): object | undefined {
  if (!record) return undefined;
  const { updatedAt: _updatedAt, ...rest } = record as { updatedAt?: string };
  return rest;
}

/** Seeds one job in the given state into a store, and applies one transition to it. */
async function applyToJob(
  store: BatchStore,
  state: Partial<JobRecord>,
  move: JobTransition,
): Promise<{ won: boolean; after: object | undefined }> {
  const { batch, jobs } = await seedBatch({ store }, [{ name: "one" }]);
  const job = { ...jobs[0]!, ...state } as JobRecord;
  await store.createBatch({ ...batch, batchId: `${batch.batchId}x` }, [
    { ...job, batchId: `${batch.batchId}x` },
  ]);
  const result = await store.transitionJob(`${batch.batchId}x`, job.jobId, move);
  const after = await store.getJob(`${batch.batchId}x`, job.jobId);
  return { won: result.won, after: comparable({ ...after, batchId: "b", createdAt: "t" }) };
}

async function applyToBatch(
  store: BatchStore,
  state: Partial<BatchRecord>,
  move: BatchTransition,
): Promise<{ won: boolean; after: object | undefined }> {
  const seeded = await seedBatch({ store }, [{ name: "one" }]);
  const batch = { ...seeded.batch, ...state, batchId: `${seeded.batch.batchId}y` };
  await store.createBatch(batch, []);
  const result = await store.transitionBatch(batch.batchId, move);
  const after = await store.getBatch(batch.batchId);
  return {
    won: result.won,
    after: comparable({ ...after, batchId: "b", executionArn: "arn", createdAt: "t" }),
  };
}

describe("a job transition applied by the DynamoDB adapter and by the in-memory store", () => {
  for (const [moveName, move] of Object.entries(jobMoves)) {
    it(`agrees on ${moveName} from every state a job can be in`, async () => {
      // Prepare
      const memory = new MemoryBatchStore();
      for (const [stateName, state] of Object.entries(jobStates)) {
        // Act
        const [dynamo, inMemory] = [
          await applyToJob(aws.store, state, move),
          await applyToJob(memory, state, move),
        ];
        // Assess
        expect({ state: stateName, ...dynamo }).toEqual({ state: stateName, ...inMemory });
      }
    });
  }
});

describe("a batch transition applied by the DynamoDB adapter and by the in-memory store", () => {
  for (const [moveName, move] of Object.entries(batchMoves)) {
    it(`agrees on ${moveName} from every state a batch can be in`, async () => {
      // Prepare
      const memory = new MemoryBatchStore();
      for (const [stateName, state] of Object.entries(batchStates)) {
        // Act
        const [dynamo, inMemory] = [
          await applyToBatch(aws.store, state, move),
          await applyToBatch(memory, state, move),
        ];
        // Assess
        expect({ state: stateName, ...dynamo }).toEqual({ state: stateName, ...inMemory });
      }
    });
  }

  it("lets the guards decide something: some transitions win and some lose", async () => {
    // Act
    const outcomes = await Promise.all(
      Object.values(jobStates).map((state) =>
        applyToJob(new MemoryBatchStore(), state, jobMoves.cancelRunning!),
      ),
    );
    // Assess
    expect(outcomes.map((o) => o.won)).toEqual([
      ...[false, false, true, false, true, false, false, false],
      ...[false, false],
    ]);
  });
});

describe("deleting a job's record, in the DynamoDB adapter and the in-memory store", () => {
  it("agrees, from every state a job can be in: only an ended job is deleted", async () => {
    // Prepare
    const memory = new MemoryBatchStore();
    for (const [stateName, state] of Object.entries(jobStates)) {
      // Act
      const [dynamo, inMemory] = await Promise.all(
        [aws.store, memory].map(async (store: BatchStore) => {
          const { batch, jobs } = await seedBatch({ store }, [{ name: "one" }]);
          const job = { ...jobs[0]!, ...state } as JobRecord;
          await store.createBatch({ ...batch, batchId: `${batch.batchId}z` }, [
            { ...job, batchId: `${batch.batchId}z` },
          ]);
          return (await store.deleteFinishedJob(`${batch.batchId}z`, job.jobId)).won;
        }),
      );
      // Assess
      expect({ state: stateName, deleted: dynamo }).toEqual({
        state: stateName,
        deleted: inMemory,
      });
    }
  });
});
