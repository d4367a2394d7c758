import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CancelService } from "../../functions/core/cancel.ts";
import type { BatchStore } from "../../functions/core/ports.ts";
import { type LocalAws, type SeedJob, seedBatch, startLocalAws } from "../helpers/local-aws.ts";

let aws: LocalAws;
beforeAll(async () => {
  aws = await startLocalAws();
});
afterAll(async () => aws?.close());

/** The DynamoDB store, counting the reads that return every job of a batch. */
function countingEveryJobRead(store: BatchStore) {
  const calls = { everyJob: 0 };
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === "listJobs" || property === "listJobStates" || property === "loadBatch")
        return (...args: unknown[]) => {
          calls.everyJob++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { counted, calls };
}

/** A cancel service for batches of 100 jobs or more, which defers beyond 25 queued jobs. */
function cancelService(store: BatchStore, requests: string[] = []) {
  return new CancelService(store, aws.engine, aws.results, {
    markConcurrency: 8,
    settleMs: 0,
    manifestThreshold: 100,
    syncMarkLimit: 25,
    reconcileQueue: { requestReconcile: async (batch) => void requests.push(batch.batchId) },
  });
}

const processed = { jobsProcessed: 1 };

describe("cancelling a batch of 100 jobs or more", () => {
  it("99 % done: reads its running jobs, never every job, and lists the first page of results", async () => {
    // Prepare: 198 jobs ended with results, 2 running.
    const jobs: SeedJob[] = Array.from({ length: 200 }, (_, i) =>
      i < 198
        ? { name: `done${i}`, status: "succeeded", numbers: processed }
        : { name: `run${i}`, status: "running", phase: "Digest" },
    );
    const { batch } = await seedBatch(aws, jobs);
    const { counted, calls } = countingEveryJobRead(aws.store);

    // Act
    const answer = await cancelService(counted).cancelBatch(batch.batchId, { by: "test" });

    // Assess
    expect(calls.everyJob).toBe(0);
    expect(answer).toMatchObject({
      status: "cancelled",
      jobsCancelled: 2,
      total: 200,
      manifest: expect.stringContaining(batch.batchId),
    });
    expect(answer.jobs.sort()).toEqual(["run198", "run199"]);
    expect(answer.partialResults.processedJobs).toHaveLength(20);
    expect(answer.partialResults).toHaveProperty("processedJobsNext");
    const after = await aws.store.getBatch(batch.batchId);
    expect(after?.jobCounts).toMatchObject({ running: 0, cancelled: 2, succeeded: 198 });
  });

  it("just started: hands its queued jobs to the reconciler unread, and counts them as cancelled", async () => {
    // Prepare: 40 running, 160 queued.
    const jobs: SeedJob[] = Array.from({ length: 200 }, (_, i) =>
      i < 40 ? { name: `run${i}`, status: "running", phase: "Ingest" } : { name: `q${i}` },
    );
    const { batch } = await seedBatch(aws, jobs, { concurrency: 40 });
    const { counted, calls } = countingEveryJobRead(aws.store);
    const requests: string[] = [];

    // Act
    const answer = await cancelService(counted, requests).cancelBatch(batch.batchId, {
      by: "test",
    });

    // Assess
    expect(calls.everyJob).toBe(0);
    expect(answer).toMatchObject({ status: "cancelled", jobsCancelled: 200, total: 200 });
    expect(answer.jobs).toHaveLength(40);
    expect(requests).toEqual([batch.batchId]);
    const states = await aws.store.listJobStates(batch.batchId);
    expect(states.filter((job) => job.status === "cancelled")).toHaveLength(40);
  });

  it("answers a second cancel from the batch's counts, pointing to the manifest for the names", async () => {
    // Prepare
    const jobs: SeedJob[] = Array.from({ length: 120 }, (_, i) =>
      i < 110
        ? { name: `done${i}`, status: "succeeded" }
        : { name: `run${i}`, status: "running", phase: "Ingest" },
    );
    const { batch } = await seedBatch(aws, jobs);
    await cancelService(aws.store).cancelBatch(batch.batchId, { by: "first" });
    const { counted, calls } = countingEveryJobRead(aws.store);

    // Act
    const again = await cancelService(counted).cancelBatch(batch.batchId, { by: "second" });

    // Assess
    expect(calls.everyJob).toBe(0);
    expect(again).toMatchObject({
      alreadyCancelled: true,
      jobsCancelled: 10,
      total: 120,
      manifest: expect.stringContaining(batch.batchId),
    });
  });

  it("cancels jobs named by id reading those jobs only, and by name reading every job", async () => {
    // Prepare
    const jobs: SeedJob[] = Array.from({ length: 150 }, (_, i) => ({
      name: `j${i}`,
      status: "running",
      phase: "Ingest",
    }));
    const { batch, jobs: seeded } = await seedBatch(aws, jobs);
    const { counted, calls } = countingEveryJobRead(aws.store);
    const service = cancelService(counted);

    // Act
    const byId = await service.cancelJobs(batch.batchId, [seeded[3]!.jobId, seeded[4]!.jobId], {
      by: "test",
    });
    const readsById = calls.everyJob;
    const byName = await service.cancelJobs(batch.batchId, ["j7"], { by: "test" });

    // Assess
    expect(byId.cancelled).toBe(2);
    expect(readsById).toBe(0);
    expect(byName.cancelled).toBe(1);
    expect(calls.everyJob).toBe(1);
  });
});
