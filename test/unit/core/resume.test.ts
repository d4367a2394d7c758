import { describe, expect, it } from "vitest";
import { BatchNotResumableError, ExecutionStartError } from "../../../functions/core/errors.ts";
import { cancelledExecution, executionNameOf } from "../../../functions/core/execution.ts";
import { runsOf } from "../../../functions/core/model.ts";
import { jobIdFor } from "../../../functions/core/submit.ts";
import { batchTransitions, jobTransitions } from "../../../functions/core/transitions.ts";
import { wireCore } from "../../helpers/core-services.ts";
import {
  executionArnFor,
  MemoryBatchStore,
  MemoryOutputStore,
  RecordingEngine,
} from "../../helpers/memory-ports.ts";
import { waitFor } from "../../helpers/wait.ts";

const PHASES = ["Ingest", "Digest", "Commit"] as const;

/**
 * The demo pipeline on the in-memory ports, driven as its state machine would. Its phases emit
 * one item per page and checkpoint after each, so the items a job's phase holds count its work.
 */
function world() {
  const core = wireCore(
    {
      store: new MemoryBatchStore(),
      outputs: new MemoryOutputStore(),
      engine: new RecordingEngine(),
    },
    { cancel: { settleMs: 0 }, runner: { pollMs: 5 } },
  );
  const runJob = async (batchId: string, jobId: string) => {
    for (const [i, name] of PHASES.entries()) {
      const isFinal = i === PHASES.length - 1;
      const answer = await core.runner.run(
        { batchId, jobId, phase: name, isFinal },
        core.phases[name],
      );
      if (answer.outcome !== "continue") return answer.outcome;
    }
    return "succeeded";
  };
  const pagesOf = async (batchId: string, jobId: string, phase: string) => {
    const job = await core.store.getJob(batchId, jobId);
    const chunks = job?.itemChunks?.[phase] ?? 0;
    const { items } = await core.outputs.readItems(batchId, jobId, phase, chunks, {
      offset: 0,
      limit: 1000,
    });
    return items.map((item) => (item as { page: number }).page);
  };
  return { core, runJob, pagesOf };
}

const by = { by: "ops@example.com" };

/**
 * A batch of three: "done" succeeded, "mid" stopped by a `now` cancel half-way through its
 * Ingest (6 pages, checkpointed after each), "never" never started; the batch then ended.
 */
async function cancelledHalfWay(w: ReturnType<typeof world>) {
  const { batchId } = await w.core.submit.submit({
    jobs: [
      { name: "done", input: { pages: 2, workMs: 0 } },
      { name: "mid", input: { pages: 6, workMs: 1200 } },
      { name: "never", input: { pages: 2, workMs: 0 } },
    ],
  });
  const [done, mid, never] = [0, 1, 2].map(jobIdFor) as [string, string, string];
  expect(await w.runJob(batchId, done)).toBe("succeeded");
  const midRun = w.runJob(batchId, mid);
  const nextPage = async () =>
    (
      (await w.core.outputs.getCheckpoint(batchId, mid, "Ingest"))?.checkpoint as
        | { nextPage: number }
        | undefined
    )?.nextPage ?? 0;
  await waitFor(
    async () => ((await nextPage()) >= 3 ? true : undefined),
    "mid to be half-way through Ingest",
    5_000,
    5,
  );
  const cancel = await w.core.cancel.cancelBatch(batchId, { ...by, reason: "wrong tickers" });
  expect(await midRun).toBe("cancelled");
  const batch = await w.core.store.getBatch(batchId);
  await w.core.reconciler.reconcile(cancelledExecution(batch!, batch!.cancel));
  return { batchId, done, mid, never, cancellationId: cancel.cancellationId as string };
}

describe("resuming a cancelled batch", () => {
  it("runs the cancelled jobs again in a new run, from their checkpoints, and never reruns what succeeded", async () => {
    // Prepare
    const w = world();
    const { batchId, done, mid, never, cancellationId } = await cancelledHalfWay(w);
    const doneBefore = await w.core.store.getJob(batchId, done);
    const midPagesBefore = await w.pagesOf(batchId, mid, "Ingest");
    // Act
    const resumed = await w.core.resume.resume(batchId, { ...by, reason: "right tickers now" });
    const answers = await Promise.all([w.runJob(batchId, mid), w.runJob(batchId, never)]);
    const final = await w.core.completion.finalize(batchId);
    // Assess: a new execution, linked by name, given only the resumed jobs.
    expect(resumed).toMatchObject({
      run: 2,
      executionArn: executionArnFor(`${batchId}-run-2`),
      jobs: [
        { jobId: mid, name: "mid", stoppedIn: "Ingest", phasesDone: [] },
        { jobId: never, name: "never", stoppedIn: null, phasesDone: [] },
      ],
    });
    expect(w.core.engine.started.at(-1)).toEqual({
      name: `${batchId}-run-2`,
      input: { batchId, concurrency: 10, jobs: [{ jobId: mid }, { jobId: never }] },
    });
    expect(answers).toEqual(["succeeded", "succeeded"]);
    expect(final.status).toBe("succeeded");
    // The stopped phase went on from its checkpoint: every page once, none twice.
    expect(midPagesBefore.length).toBeGreaterThanOrEqual(2);
    expect(midPagesBefore.length).toBeLessThan(6);
    expect(await w.pagesOf(batchId, mid, "Ingest")).toEqual([1, 2, 3, 4, 5, 6]);
    const midAfter = await w.core.store.getJob(batchId, mid);
    expect(midAfter?.phases.Ingest).toMatchObject({ status: "succeeded", attempt: 2 });
    // What succeeded was not run again.
    expect(await w.core.store.getJob(batchId, done)).toEqual(doneBefore);
    // The batch shows its runs, and the resume is audited.
    const batch = await w.core.store.getBatch(batchId);
    expect(runsOf(batch!)).toMatchObject([
      { run: 1, executionArn: executionArnFor(batchId), status: "cancelled", jobs: 3 },
      { run: 2, jobs: 2, by: "ops@example.com", reason: "right tickers now", status: "succeeded" },
    ]);
    const audit = (await w.core.store.loadBatch(batchId))?.audit ?? [];
    expect(audit.at(-1)).toMatchObject({ action: "resume", by: "ops@example.com" });
    expect(audit.find((entry) => entry.action === "resume")?.detail).toMatchObject({
      run: 2,
      jobs: 2,
    });
    // The first cancel's receipt still says how each job ended then, and which run took it up.
    const receipt = await w.core.receipts.receipt(batchId, cancellationId);
    expect(receipt.outcomes.map((j) => [j.name, j.outcome, j.resumedInRun ?? null])).toEqual([
      ["done", "completed_before_cancel", null],
      ["mid", "stopped_at_safe_point", 2],
      ["never", "cancelled_before_start", 2],
    ]);
  });

  it("resumes only the jobs named, by id or name", async () => {
    // Prepare
    const w = world();
    const { batchId, mid, never } = await cancelledHalfWay(w);
    // Act
    const resumed = await w.core.resume.resume(batchId, { ...by, jobs: ["never"] });
    // Assess
    expect(resumed.jobs.map((job) => job.jobId)).toEqual([never]);
    expect((await w.core.store.getJob(batchId, never))?.status).toBe("queued");
    expect((await w.core.store.getJob(batchId, mid))?.status).toBe("cancelled");
  });

  it("refuses a named job that succeeded, and changes nothing", async () => {
    // Prepare
    const w = world();
    const { batchId } = await cancelledHalfWay(w);
    const started = w.core.engine.started.length;
    // Act
    const attempt = w.core.resume.resume(batchId, { ...by, jobs: ["mid", "done", "nobody"] });
    // Assess
    await expect(attempt).rejects.toThrow(BatchNotResumableError);
    await expect(attempt).rejects.toThrow(
      /done \(job-00001\) succeeded, and a job that succeeded never runs again; 'nobody' is not a job of this batch/,
    );
    expect((await w.core.store.getBatch(batchId))?.status).toBe("cancelled");
    expect(w.core.engine.started).toHaveLength(started);
  });

  it("refuses a batch that is still running, and one with nothing cancelled", async () => {
    // Prepare
    const w = world();
    const { batchId: running } = await w.core.submit.submit({ jobs: ["a"] });
    const { batchId: succeeded } = await w.core.submit.submit({
      jobs: [{ name: "b", input: { pages: 1, workMs: 0 } }],
    });
    await w.runJob(succeeded, jobIdFor(0));
    await w.core.completion.finalize(succeeded);
    // Act / Assess
    await expect(w.core.resume.resume(running, by)).rejects.toThrow(
      /is queued; resume it once it has ended/,
    );
    await expect(w.core.resume.resume(succeeded, by)).rejects.toThrow(BatchNotResumableError);
  });

  it("refuses while a phase of the last run is still running, naming its job", async () => {
    // Prepare: the batch ended, but one job's phase never stopped (it ignored its signal).
    const w = world();
    const { batchId, mid } = await cancelledHalfWay(w);
    await w.core.store.transitionJob(batchId, mid, {
      name: "stillRunning",
      set: {},
      phase: { name: "Digest", record: { status: "running", startedAt: "x", attempt: 1 } },
      when: {},
    });
    // Act / Assess
    await expect(w.core.resume.resume(batchId, by)).rejects.toThrow(
      /1 job\(s\) .* still have a phase running from the last run \(mid\); resume once the batch has quiesced/,
    );
  });

  it("lets one of two resumes racing each other win", async () => {
    // Prepare
    const w = world();
    const { batchId } = await cancelledHalfWay(w);
    // Act
    const outcomes = await Promise.allSettled([
      w.core.resume.resume(batchId, by),
      w.core.resume.resume(batchId, by),
    ]);
    // Assess
    expect(outcomes.map((o) => o.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(w.core.engine.started.filter((s) => s.name === `${batchId}-run-2`)).toHaveLength(1);
  });

  it("records a run whose execution cannot start as failed, its jobs with it", async () => {
    // Prepare
    const w = world();
    const { batchId, mid } = await cancelledHalfWay(w);
    w.core.engine.failNextStart = new Error("throttled");
    // Act
    const attempt = w.core.resume.resume(batchId, by);
    // Assess
    await expect(attempt).rejects.toThrow(ExecutionStartError);
    expect((await w.core.store.getBatch(batchId))?.status).toBe("failed");
    expect((await w.core.store.getJob(batchId, mid))?.status).toBe("failed");
  });

  it("finishes a resume that was cut short before its execution started, when asked again", async () => {
    // Prepare: a resume recorded its run and queued one job, then its request died.
    const w = world();
    const { batchId, mid, never } = await cancelledHalfWay(w);
    const batch = await w.core.store.getBatch(batchId);
    const runs = [
      ...runsOf(batch!),
      {
        run: 2,
        executionArn: executionArnFor(executionNameOf(batchId, 2)),
        startedAt: new Date().toISOString(),
        jobs: 2,
      },
    ];
    await w.core.store.transitionBatch(batchId, batchTransitions.resume(runs));
    await w.core.store.transitionJob(
      batchId,
      mid,
      jobTransitions.resume(2, { run: 1, status: "cancelled", phases: {} }),
    );
    // Act
    const resumed = await w.core.resume.resume(batchId, by);
    // Assess
    expect(resumed).toMatchObject({ run: 2, completedEarlierResume: true });
    expect(resumed.jobs.map((job) => job.jobId)).toEqual([mid, never]);
    expect(w.core.engine.started.at(-1)?.name).toBe(`${batchId}-run-2`);
  });
});

describe("a reconcile of an earlier run that arrives late", () => {
  it("never ends the batch's new run", async () => {
    // Prepare: run 1 was cancelled and reconciled, then resumed.
    const w = world();
    const { batchId } = await cancelledHalfWay(w);
    const runOne = await w.core.store.getBatch(batchId);
    await w.core.resume.resume(batchId, by);
    // Act: run 1's status change is delivered again, late, and a reconcile that read the batch
    // before the resume ends it only now.
    await w.core.reconciler.reconcile(cancelledExecution(runOne!, runOne!.cancel));
    const lateEnd = await w.core.store.transitionBatch(
      batchId,
      batchTransitions.finish(
        "cancelled",
        new Date().toISOString(),
        undefined,
        runOne!.executionArn,
      ),
    );
    // Assess
    const batch = await w.core.store.getBatch(batchId);
    expect(batch).toMatchObject({
      status: "queued",
      executionArn: executionArnFor(`${batchId}-run-2`),
    });
    expect(batch?.cancel).toBeUndefined();
    expect(lateEnd.won).toBe(false);
  });
});
