import { afterEach, describe, expect, it } from "vitest";
import { jobIdFor } from "../../../functions/core/submit.ts";
import { definePhase, type PhaseDefinition } from "../../../sdk/index.ts";
import { wireCore } from "../../helpers/core-services.ts";
import {
  MemoryBatchStore,
  MemoryOutputStore,
  RecordingEngine,
} from "../../helpers/memory-ports.ts";
import { waitFor } from "../../helpers/wait.ts";

const PHASES = ["Ingest", "Digest", "Commit"] as const;
type PhaseName = (typeof PHASES)[number];

/**
 * A batch on the in-memory ports, driven as its state machine would: each job's phases in order
 * until one answers anything but "continue". Phases record what ran; a job's Ingest can be held
 * open (as long work) until the test lets it end, and it stops early only when its signal fires.
 */
function batchWorld() {
  const core = wireCore(
    {
      store: new MemoryBatchStore(),
      outputs: new MemoryOutputStore(),
      engine: new RecordingEngine(),
    },
    { cancel: { settleMs: 0 }, runner: { pollMs: 5 } },
  );
  const ran: string[] = [];
  const held = new Map<string, () => void>();
  const phase = (name: PhaseName): PhaseDefinition =>
    definePhase({
      name,
      async run(ctx) {
        ran.push(`${ctx.job.name}:${name}`);
        if (name === "Ingest" && ctx.job.name.startsWith("long")) {
          await new Promise<void>((resolve) => {
            held.set(ctx.job.name, resolve);
            ctx.signal.addEventListener("abort", () => resolve());
          });
          if (ctx.signal.aborted) return { stoppedEarly: true };
        }
        return { done: name };
      },
    });
  const runJob = async (batchId: string, jobId: string) => {
    for (const [i, name] of PHASES.entries()) {
      const isFinal = i === PHASES.length - 1;
      const answer = await core.runner.run({ batchId, jobId, phase: name, isFinal }, phase(name));
      if (answer.outcome !== "continue") return answer.outcome;
    }
    return "succeeded";
  };
  return { core, ran, held, runJob };
}

let stopTimers: (() => void)[] = [];
afterEach(() => {
  for (const stop of stopTimers) stop();
  stopTimers = [];
});

/** Submits `names` and starts the first `running` of them, as a Map at that concurrency would. */
async function startBatch(world: ReturnType<typeof batchWorld>, names: string[], running: number) {
  const { batchId } = await world.core.submit.submit({ jobs: names });
  const jobIds = names.map((_, i) => jobIdFor(i));
  const started = jobIds.slice(0, running).map((jobId) => world.runJob(batchId, jobId));
  for (const name of names.slice(0, running).filter((n) => n.startsWith("long")))
    await waitFor(async () => world.held.has(name), `${name} to be running`, 5_000, 2);
  stopTimers.push(() => {
    for (const release of world.held.values()) release();
  });
  return { batchId, jobIds, started };
}

describe("a batch cancel with mode drain", () => {
  it("lets running jobs finish all their phases, never starts queued ones, then ends cancelled", async () => {
    // Prepare: one job in a long Ingest, two queued behind it.
    const world = batchWorld();
    const { batchId, jobIds, started } = await startBatch(world, ["long-a", "b", "c"], 1);
    // Act
    const answer = await world.core.cancel.cancelBatch(batchId, { by: "op", mode: "drain" });
    world.held.get("long-a")?.();
    const [outcome] = await Promise.all(started);
    const queuedOutcomes = await Promise.all(
      jobIds.slice(1).map((id) => world.runJob(batchId, id)),
    );
    const finalized = await world.core.completion.finalize(batchId);
    // Assess
    expect(answer).toMatchObject({
      status: "cancelling",
      mode: "drain",
      jobsCancelled: 2,
      draining: [{ name: "long-a", phase: "Ingest" }],
    });
    expect(answer.cancellationId).toMatch(/^c-/);
    expect(world.core.engine.stopped).toEqual([]);
    expect(outcome).toBe("succeeded");
    expect(queuedOutcomes).toEqual(["cancelled", "cancelled"]);
    expect(world.ran).toEqual(["long-a:Ingest", "long-a:Digest", "long-a:Commit"]);
    expect(finalized.status).toBe("cancelled");
    const jobs = await world.core.store.listJobs(batchId);
    expect(jobs.map((job) => job.status)).toEqual(["succeeded", "cancelled", "cancelled"]);
  });

  it("does not fire a running phase's signal", async () => {
    // Prepare
    const world = batchWorld();
    const { batchId, started } = await startBatch(world, ["long-a"], 1);
    // Act: a drain, then time for many polls of the intent.
    await world.core.cancel.cancelBatch(batchId, { by: "op", mode: "drain" });
    await new Promise((resolve) => setTimeout(resolve, 60));
    world.held.get("long-a")?.();
    await Promise.all(started);
    // Assess: Ingest ended because it was let end, not stopped early.
    const output = await world.core.outputs.readOutput(batchId, jobIdFor(0), "Ingest");
    expect(output).toMatchObject({ status: "complete", output: { done: "Ingest" } });
  });
});

describe("a batch cancel with mode after-phase", () => {
  it("lets running jobs finish the phase they are in, then starts none of their later phases", async () => {
    // Prepare
    const world = batchWorld();
    const { batchId, jobIds, started } = await startBatch(world, ["long-a", "b"], 1);
    // Act
    const answer = await world.core.cancel.cancelBatch(batchId, {
      by: "op",
      mode: "after-phase",
    });
    world.held.get("long-a")?.();
    const [outcome] = await Promise.all(started);
    const queued = await world.runJob(batchId, jobIds[1]!);
    await world.core.completion.finalize(batchId);
    // Assess
    expect(answer).toMatchObject({
      status: "cancelling",
      mode: "after-phase",
      jobsCancelled: 1,
      stoppingAfterPhase: [{ name: "long-a", phase: "Ingest" }],
    });
    expect(world.core.engine.stopped).toEqual([]);
    expect(outcome).toBe("cancelled");
    expect(queued).toBe("cancelled");
    expect(world.ran).toEqual(["long-a:Ingest"]);
    const job = await world.core.store.getJob(batchId, jobIds[0]!);
    expect(job).toMatchObject({ status: "cancelled", wasInPhase: "Ingest" });
    expect(job?.phases.Ingest?.status).toBe("succeeded");
    expect((await world.core.store.getBatch(batchId))?.status).toBe("cancelled");
  });
});

describe("a batch cancel with mode now", () => {
  it("stops the execution and the running phase at its next safe point, as before", async () => {
    // Prepare
    const world = batchWorld();
    const { batchId, started } = await startBatch(world, ["long-a", "b"], 1);
    // Act
    const answer = await world.core.cancel.cancelBatch(batchId, { by: "op" });
    const [outcome] = await Promise.all(started);
    // Assess
    expect(answer).toMatchObject({ status: "cancelled", mode: "now", jobsCancelled: 2 });
    expect(world.core.engine.stopped).toHaveLength(1);
    expect(outcome).toBe("cancelled");
    expect(world.ran).toEqual(["long-a:Ingest"]);
    const output = await world.core.outputs.readOutput(batchId, jobIdFor(0), "Ingest");
    expect(output).toMatchObject({ status: "partial", output: { stoppedEarly: true } });
  });
});

describe("one job's cancel with a mode", () => {
  it("after-phase: answers that the job stops once its phase ends, and it does", async () => {
    // Prepare
    const world = batchWorld();
    const { batchId, jobIds, started } = await startBatch(world, ["long-a"], 1);
    // Act
    const answer = await world.core.cancel.cancelJob(batchId, jobIds[0]!, {
      by: "op",
      mode: "after-phase",
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    world.held.get("long-a")?.();
    const [outcome] = await Promise.all(started);
    // Assess
    expect(answer).toMatchObject({ mode: "after-phase", stopsAfterPhase: "Ingest" });
    expect(outcome).toBe("cancelled");
    expect(world.ran).toEqual(["long-a:Ingest"]);
    expect(await world.core.store.getJob(batchId, jobIds[0]!)).toMatchObject({
      status: "cancelled",
      wasInPhase: "Ingest",
    });
  });

  it("drain: leaves a running job to finish, and cancels a queued one", async () => {
    // Prepare
    const world = batchWorld();
    const { batchId, jobIds, started } = await startBatch(world, ["long-a", "b"], 1);
    // Act
    const running = await world.core.cancel.cancelJob(batchId, jobIds[0]!, {
      by: "op",
      mode: "drain",
    });
    const queued = await world.core.cancel.cancelJob(batchId, jobIds[1]!, {
      by: "op",
      mode: "drain",
    });
    world.held.get("long-a")?.();
    const [outcome] = await Promise.all(started);
    // Assess
    expect(running).toMatchObject({ mode: "drain", draining: "Ingest" });
    expect(queued).toMatchObject({ mode: "drain", wasInPhase: null, alreadyCancelled: false });
    expect(outcome).toBe("succeeded");
    expect((await world.core.store.getJob(batchId, jobIds[1]!))?.status).toBe("cancelled");
  });

  it("now, after an after-phase one: stops the phase at once", async () => {
    // Prepare
    const world = batchWorld();
    const { batchId, jobIds, started } = await startBatch(world, ["long-a"], 1);
    await world.core.cancel.cancelJob(batchId, jobIds[0]!, { by: "op", mode: "after-phase" });
    // Act
    const answer = await world.core.cancel.cancelJob(batchId, jobIds[0]!, { by: "op" });
    const [outcome] = await Promise.all(started);
    // Assess
    expect(answer).toMatchObject({ mode: "now", wasInPhase: "Ingest" });
    expect(outcome).toBe("cancelled");
    const output = await world.core.outputs.readOutput(batchId, jobIds[0]!, "Ingest");
    expect(output?.status).toBe("partial");
  });
});

describe("a now cancel with a grace", () => {
  it("keeps a phase's output that comes after the grace apart, as late, and never counts it", async () => {
    // Prepare: a phase that ignores its signal and returns a number after the grace.
    const world = batchWorld();
    const { batchId } = await world.core.submit.submit({ jobs: ["stubborn"] });
    const jobId = jobIdFor(0);
    let release: () => void = () => undefined;
    const stubborn = definePhase({
      name: "Ingest",
      async run() {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return { pages: 7 };
      },
    });
    const running = world.core.runner.run(
      { batchId, jobId, phase: "Ingest", isFinal: false },
      stubborn,
    );
    await waitFor(
      async () => (await world.core.store.getJob(batchId, jobId))?.status === "running",
      "the phase to start",
      5_000,
      2,
    );
    // Act: cancel with a one-second grace, and let the phase return two seconds later.
    const answer = await world.core.cancel.cancelBatch(batchId, { by: "op", graceSeconds: 1 });
    const during = await world.core.receipts.receipt(batchId, answer.cancellationId ?? "");
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const after = await world.core.receipts.receipt(batchId, answer.cancellationId ?? "");
    release();
    await running;
    const settled = await world.core.receipts.receipt(batchId, answer.cancellationId ?? "");
    // Assess
    expect(during.outcomes[0]?.outcome).toBe("pending");
    expect(after.outcomes[0]?.outcome).toBe("ignored_signal");
    expect(settled.outcomes[0]).toMatchObject({ outcome: "ignored_signal", phase: "Ingest" });
    const output = await world.core.outputs.readOutput(batchId, jobId, "Ingest");
    expect(output).toMatchObject({ status: "late", output: { pages: 7 } });
    expect((await world.core.store.getBatch(batchId))?.totals?.pages ?? 0).toBe(0);
  });
});
