import { describe, expect, it } from "vitest";
import type { ExecutionStatusChange } from "../../../functions/core/execution.ts";
import { jobIdFor } from "../../../functions/core/submit.ts";
import { definePhase } from "../../../sdk/index.ts";
import { wireCore } from "../../helpers/core-services.ts";
import {
  MemoryBatchStore,
  MemoryOutputStore,
  RecordingEngine,
} from "../../helpers/memory-ports.ts";
import { waitFor } from "../../helpers/wait.ts";

/** The in-memory store, counting the reads a running phase makes while it watches for a cancel. */
class CountingStore extends MemoryBatchStore {
  readonly reads = { signal: 0, batch: 0, job: 0 };
  override async readCancelSignal(batchId: string) {
    this.reads.signal++;
    return super.readCancelSignal(batchId);
  }
  override async getBatch(batchId: string) {
    this.reads.batch++;
    return super.getBatch(batchId);
  }
  override async getJob(batchId: string, jobId: string) {
    this.reads.job++;
    return super.getJob(batchId, jobId);
  }
  resetReads() {
    Object.assign(this.reads, { signal: 0, batch: 0, job: 0 });
  }
}

/** A phase that runs until its signal fires (or a minute passes), and says which it was. */
const untilStopped = definePhase({
  name: "Ingest",
  run: ({ signal }) =>
    new Promise<{ stoppedEarly: boolean }>((resolve) => {
      const timer = setTimeout(() => resolve({ stoppedEarly: false }), 60_000);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve({ stoppedEarly: true });
      });
    }),
});

/** A batch of `names` on the in-memory ports, its first `running` jobs in a long Ingest. */
async function batchWithRunningJobs(names: string[], running: number, pollMs = 5) {
  const store = new CountingStore();
  const core = wireCore(
    { store, outputs: new MemoryOutputStore(), engine: new RecordingEngine() },
    { cancel: { settleMs: 0 }, runner: { pollMs } },
  );
  const { batchId, executionArn } = await core.submit.submit({ jobs: names });
  const jobIds = names.map((_, i) => jobIdFor(i));
  const phases = jobIds
    .slice(0, running)
    .map((jobId) =>
      core.runner.run({ batchId, jobId, phase: "Ingest", isFinal: false }, untilStopped),
    );
  for (const jobId of jobIds.slice(0, running))
    await waitFor(
      async () => (await store.getJob(batchId, jobId))?.status === "running",
      `${jobId} to run`,
      5_000,
      2,
    );
  return { core, store, batchId, executionArn, jobIds, phases };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("how a running phase watches for a cancel", () => {
  it("reads only its batch's cancel signal while nothing is cancelled", async () => {
    // Prepare
    const { core, store, batchId, phases } = await batchWithRunningJobs(["a"], 1);
    store.resetReads();

    // Act: time for many polls.
    await pause(80);
    const reads = { ...store.reads };
    await core.cancel.cancelBatch(batchId, { by: "test" });
    await Promise.all(phases);

    // Assess
    expect(reads.signal).toBeGreaterThanOrEqual(5);
    expect(reads.batch + reads.job).toBe(0);
  });

  it("stops on a job cancel, which raises the signal once, and leaves the batch's other phase running", async () => {
    // Prepare
    const { core, store, batchId, jobIds, phases } = await batchWithRunningJobs(["a", "b"], 2);

    // Act
    await core.cancel.cancelJob(batchId, jobIds[0]!, { by: "test" });
    const stopped = await phases[0];
    await pause(40);

    // Assess
    expect(stopped?.outcome).toBe("cancelled");
    expect(await store.readCancelSignal(batchId)).toBe(1);
    expect((await store.getJob(batchId, jobIds[1]!))?.status).toBe("running");
    await core.cancel.cancelBatch(batchId, { by: "test" });
    await expect(phases[1]).resolves.toMatchObject({ outcome: "cancelled" });
  });

  it("does not raise the signal for a cancel that stops no running phase", async () => {
    // Prepare: one job runs, one is queued.
    const { core, store, batchId, jobIds, phases } = await batchWithRunningJobs(["a", "b"], 1);

    // Act
    await core.cancel.cancelJob(batchId, jobIds[1]!, { by: "test" });
    await core.cancel.cancelJobs(batchId, ["b", "no-such-job"], { by: "test" });
    await core.cancel.cancelBatch(batchId, { by: "test", mode: "drain" });

    // Assess
    expect(await store.readCancelSignal(batchId)).toBe(0);
    await core.cancel.cancelJob(batchId, jobIds[0]!, { by: "test" });
    await expect(phases[0]).resolves.toMatchObject({ outcome: "cancelled" });
  });

  it("stops on a subset cancel and on a batch cancel, each raising the signal", async () => {
    // Prepare
    const { core, store, batchId, phases } = await batchWithRunningJobs(["a", "b", "c"], 3);

    // Act
    await core.cancel.cancelJobs(batchId, ["a", "b"], { by: "test" });
    const subset = await Promise.all(phases.slice(0, 2));
    const afterSubset = await store.readCancelSignal(batchId);
    await core.cancel.cancelBatch(batchId, { by: "test" });
    const rest = await phases[2];

    // Assess
    expect(subset.map((answer) => answer.outcome)).toEqual(["cancelled", "cancelled"]);
    expect(afterSubset).toBe(1);
    expect(rest?.outcome).toBe("cancelled");
    expect(await store.readCancelSignal(batchId)).toBe(2);
  });

  it("stops on a stop from the console, which the reconciler signals", async () => {
    // Prepare
    const { core, store, batchId, executionArn, phases } = await batchWithRunningJobs(["a"], 1);
    const stop: ExecutionStatusChange = {
      executionArn,
      name: batchId,
      status: "ABORTED",
      stopDate: Date.now(),
      error: "",
      cause: "stopped by the on-call engineer",
    };

    // Act
    await core.reconciler.reconcile(stop);

    // Assess
    await expect(phases[0]).resolves.toMatchObject({ outcome: "cancelled" });
    // Raised as the stop is claimed, and again once the jobs it ended are marked.
    expect(await store.readCancelSignal(batchId)).toBeGreaterThanOrEqual(1);
  });

  it("reads the intent at its first poll when the signal was raised before it started watching", async () => {
    // Prepare: an earlier job cancel raised the signal; then a phase starts, polling every 200 ms.
    const { core, store, batchId, jobIds, phases } = await batchWithRunningJobs(["a", "b"], 1, 200);
    await core.cancel.cancelJob(batchId, jobIds[0]!, { by: "test" });
    await phases[0];
    const later = core.runner.run(
      { batchId, jobId: jobIds[1]!, phase: "Ingest", isFinal: false },
      untilStopped,
    );
    await waitFor(
      async () => (await store.getJob(batchId, jobIds[1]!))?.status === "running",
      "b to run",
      5_000,
      2,
    );

    // Act: its job gets a cancel intent before its first poll, and the signal does not change.
    const marked = await store.transitionJob(batchId, jobIds[1]!, {
      name: "cancelRunning",
      set: { status: "cancelled" },
      when: { statusIn: ["running"] },
    });

    // Assess: the first poll, seeing a signal raised before, reads the records.
    expect(marked.won).toBe(true);
    expect(await store.readCancelSignal(batchId)).toBe(1);
    await expect(later).resolves.toMatchObject({ outcome: "cancelled" });
  });
});
