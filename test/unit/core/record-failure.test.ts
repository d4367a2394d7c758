import { describe, expect, it } from "vitest";
import { BatchCompletion } from "../../../functions/core/completion.ts";
import type { BatchRecord, JobRecord } from "../../../functions/core/model.ts";
import { Results } from "../../../functions/core/results.ts";
import { MemoryBatchStore, MemoryOutputStore } from "../../helpers/memory-ports.ts";

const AT = "2026-11-23T12:00:00.000Z";
const batch = { batchId: "b-1", status: "running", createdAt: AT } as unknown as BatchRecord;
const dying = (): JobRecord => ({
  batchId: "b-1",
  jobId: "job-00001",
  name: "RY.TO",
  input: {},
  status: "running",
  phase: "Digest",
  phases: { Digest: { status: "running", startedAt: AT, attempt: 3 } },
  createdAt: AT,
});

const completionOver = (store: MemoryBatchStore) =>
  new BatchCompletion(store, new Results(store, new MemoryOutputStore(), { summaryFields: {} }));

describe("a job whose phase's retries ran out", () => {
  it("ends failed, and so does the phase its handler died in without recording its end", async () => {
    // Prepare
    const store = new MemoryBatchStore();
    await store.createBatch(batch, [dying()]);
    // Act
    await completionOver(store).recordJobFailure("b-1", "job-00001", "States.TaskFailed", "");
    // Assess
    const job = await store.getJob("b-1", "job-00001");
    expect(job?.status).toBe("failed");
    expect(job?.phases.Digest).toMatchObject({
      status: "failed",
      attempt: 3,
      endedAt: expect.any(String),
    });
  });

  it("ends failed alone when the phase recorded its own end meanwhile, whose record it keeps", async () => {
    // Prepare: the phase's handler, still alive, records its end between the read and the write.
    const store = new MemoryBatchStore();
    await store.createBatch(batch, [dying()]);
    const read = store.getJob.bind(store);
    store.getJob = async (batchId, jobId) => {
      const job = await read(batchId, jobId);
      const live = store.jobs.get(batchId)?.get(jobId) as JobRecord;
      store.jobs.get(batchId)?.set(jobId, {
        ...live,
        phases: { Digest: { status: "succeeded", startedAt: AT, endedAt: AT, attempt: 3 } },
      });
      return job;
    };
    // Act
    const answer = await completionOver(store).recordJobFailure(
      "b-1",
      "job-00001",
      "States.TaskFailed",
      "",
    );
    // Assess
    const job = await read("b-1", "job-00001");
    expect(answer.status).toBe("failed");
    expect(job?.status).toBe("failed");
    expect(job?.phases.Digest?.status).toBe("succeeded");
  });
});
