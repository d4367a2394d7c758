import { describe, expect, it } from "vitest";
import { jobIdFor } from "../../../functions/core/submit.ts";
import { definePhase } from "../../../sdk/index.ts";
import { wireCore } from "../../helpers/core-services.ts";
import {
  MemoryBatchStore,
  MemoryOutputStore,
  RecordingEngine,
} from "../../helpers/memory-ports.ts";
import { waitFor } from "../../helpers/wait.ts";

/** The in-memory store, with something that happens just before the next list of running jobs. */
class InterleavingStore extends MemoryBatchStore {
  beforeNextActiveList: (() => Promise<void>) | undefined;
  activeLists = 0;
  override async listActiveJobs(...args: Parameters<MemoryBatchStore["listActiveJobs"]>) {
    this.activeLists++;
    const before = this.beforeNextActiveList;
    this.beforeNextActiveList = undefined;
    await before?.();
    return super.listActiveJobs(...args);
  }
}

const returning = definePhase({ name: "any", run: async () => ({}) });

describe("a batch's progress, read while its jobs end", () => {
  it("never goes back when a job ends between the batch's counts and its running jobs", async () => {
    // Prepare: job a is 90 % through its final phase, b is queued.
    const store = new InterleavingStore();
    const core = wireCore({
      store,
      outputs: new MemoryOutputStore(),
      engine: new RecordingEngine(),
    });
    const { batchId } = await core.submit.submit({ jobs: ["a", "b"] });
    const request = { batchId, jobId: jobIdFor(0) };
    await core.runner.run({ ...request, phase: "Ingest", isFinal: false }, returning);
    await core.runner.run({ ...request, phase: "Digest", isFinal: false }, returning);
    let finish: () => void = () => undefined;
    const committing = core.runner.run(
      { ...request, phase: "Commit", isFinal: true },
      definePhase({
        name: "Commit",
        run: ({ progress }) =>
          new Promise<Record<string, never>>((resolve) => {
            progress(9, 10);
            finish = () => resolve({});
          }),
      }),
    );
    await waitFor(
      async () => (await store.getJob(batchId, request.jobId))?.progress?.done === 9,
      "a's progress to be saved",
    );
    const before = await core.queries.status(batchId);
    store.beforeNextActiveList = async () => {
      finish();
      await committing;
    };

    // Act
    const after = await core.queries.status(batchId);

    // Assess
    expect(before.percent).toBe(48.3);
    expect(after.counts).toMatchObject({ succeeded: 1, running: 0, queued: 1 });
    expect(after.percent).toBe(50);
    expect(store.activeLists).toBe(2); // one per status read: the reread found none running
  });
});
