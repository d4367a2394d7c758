import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CancelIntent, countJobs } from "../../functions/core/model.ts";
import type { BatchStore } from "../../functions/core/ports.ts";
import { jobTransitions } from "../../functions/core/transitions.ts";
import { type LocalAws, seedBatch, startLocalAws } from "../helpers/local-aws.ts";
import { MemoryBatchStore } from "../helpers/memory-ports.ts";

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => aws?.close());

const at = "2026-11-23T12:00:00.000Z";
const intent: CancelIntent = { requestedAt: at, by: "test", reason: "wrong job", scope: "job" };
const record = { status: "succeeded" as const, startedAt: at, endedAt: at, attempt: 1 };

/** Moves four queued jobs through a batch's life: one succeeds, one is cancelled queued, one running, one is deleted once ended. */
async function liveBatch(store: BatchStore) {
  const { batch, jobs } = await seedBatch({ store }, [
    { name: "a" },
    { name: "b" },
    { name: "c" },
    { name: "d" },
  ]);
  const [a, b, c, d] = jobs.map((job) => job.jobId) as [string, string, string, string];
  const move = (jobId: string, transition: Parameters<BatchStore["transitionJob"]>[2]) =>
    store.transitionJob(batch.batchId, jobId, transition);
  await move(a, jobTransitions.startPhase("Ingest", false, at, 1));
  await move(a, jobTransitions.startPhase("Commit", true, at, 1));
  await move(a, jobTransitions.succeed("Commit", record, {}, at));
  await move(b, jobTransitions.cancelQueued(intent, at));
  await move(c, jobTransitions.startPhase("Ingest", false, at, 1));
  // A transition that loses changes no count; one that keeps the status (or sets none) neither.
  await move(c, jobTransitions.completePhase("Ingest", record, {}));
  await move(b, jobTransitions.cancelQueued(intent, at));
  await move(c, jobTransitions.startPhase("Digest", false, at, 1));
  await store.deleteFinishedJob(batch.batchId, b);
  return { batchId: batch.batchId, ids: { a, b, c, d } };
}

describe("a batch's job counts, in the DynamoDB adapter and the in-memory store", () => {
  it("follow every change of a job's status, and agree with its jobs", async () => {
    for (const store of [aws.store, new MemoryBatchStore()]) {
      // Act
      const { batchId } = await liveBatch(store);

      // Assess
      const batch = await store.getBatch(batchId);
      expect(batch?.jobCounts).toEqual({
        total: 3,
        queued: 1,
        running: 1,
        succeeded: 1,
        failed: 0,
        cancelled: 0,
      });
      expect(batch?.jobCounts).toEqual(countJobs(await store.listJobs(batchId)));
    }
  });

  it("find a batch's running and queued jobs without its ended ones", async () => {
    for (const store of [aws.store, new MemoryBatchStore()]) {
      // Act
      const { batchId, ids } = await liveBatch(store);
      const running = await store.listActiveJobs(batchId, "running", 10);
      const queued = await store.listActiveJobs(batchId, "queued", 10);

      // Assess
      expect(running.map((job) => [job.jobId, job.phase])).toEqual([[ids.c, "Digest"]]);
      expect(queued.map((job) => job.jobId)).toEqual([ids.d]);
      expect(running[0]).not.toHaveProperty("activeKey");
    }
  });

  it("are not made up for a batch submitted before they were kept", async () => {
    for (const store of [aws.store, new MemoryBatchStore()]) {
      // Prepare
      const { batch, jobs } = await seedBatch({ store }, [{ name: "old" }], {
        jobCounts: undefined,
      });

      // Act
      await store.transitionJob(
        batch.batchId,
        jobs[0]!.jobId,
        jobTransitions.startPhase("Ingest", false, at, 1),
      );

      // Assess
      expect((await store.getBatch(batch.batchId))?.jobCounts).toBeUndefined();
    }
  });

  it("pages jobs in job order from a position, reading only that page", async () => {
    for (const store of [aws.store, new MemoryBatchStore()]) {
      // Prepare
      const { batch, jobs } = await seedBatch(
        { store },
        Array.from({ length: 12 }, (_, i) => ({ name: `p${i}` })),
      );

      // Act
      const page = await store.listJobsAfter(batch.batchId, jobs[4]!.jobId, 3);
      const first = await store.listJobsAfter(batch.batchId, undefined, 2);

      // Assess
      expect(page.map((job) => job.name)).toEqual(["p5", "p6", "p7"]);
      expect(first.map((job) => job.name)).toEqual(["p0", "p1"]);
    }
  });
});
