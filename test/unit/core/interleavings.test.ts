import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PhaseFailedError } from "../../../functions/core/errors.ts";
import { cancelledExecution } from "../../../functions/core/execution.ts";
import { applyJobCancel } from "../../../functions/core/job-cancel.ts";
import {
  type BatchRecord,
  type BatchStatus,
  countJobs,
  finalBatchStatus,
  isBatchTerminal,
  isJobTerminal,
  type JobRecord,
  type JobStatus,
  percentDone,
} from "../../../functions/core/model.ts";
import { sumNumbers } from "../../../functions/core/results.ts";
import { jobIdFor } from "../../../functions/core/submit.ts";
import { type JobTransition, jobTransitions } from "../../../functions/core/transitions.ts";
import { definePhase } from "../../../sdk/index.ts";
import { wireCore } from "../../helpers/core-services.ts";
import {
  type Interleaving,
  playInterleaving,
  type Scenario,
  scenarios,
} from "../../helpers/interleavings.ts";
import {
  MemoryBatchStore,
  MemoryOutputStore,
  RecordingEngine,
} from "../../helpers/memory-ports.ts";

/**
 * Each property plays its own interleavings (fast-check's scheduler picks the order of every
 * store call, phase step and clock tick; see test/helpers/interleavings.ts) and judges how they
 * end. RUNS=n raises the number of runs for a longer search.
 */
const numRuns = Number(process.env.RUNS ?? 100);

interface Ending {
  readonly world: Interleaving;
  readonly scenario: Scenario;
  readonly batch: BatchRecord;
  readonly jobs: readonly JobRecord[];
}

/** Checks `judge` against how each interleaving ends, after checking no actor met an error. */
function everyInterleaving(judge: (ending: Ending) => Promise<void> | void): Promise<void> {
  return fc.assert(
    fc.asyncProperty(fc.scheduler(), scenarios, async (s, scenario) => {
      // Prepare, Act
      const world = await playInterleaving(s, scenario);
      // Assess
      expect(world.errors.map(describeError)).toEqual([]);
      const loaded = await world.store.loadBatch(world.batchId);
      expect(loaded, "the batch exists").toBeDefined();
      if (loaded) await judge({ world, scenario, batch: loaded.batch, jobs: loaded.jobs });
    }),
    { numRuns },
  );
}

describe("any interleaving of submit, phases, failures, retries, cancels, console stops and reconciles", () => {
  it("ends with every job in exactly one terminal state, and counts that add up", async () => {
    await everyInterleaving(({ scenario, batch, jobs }) => {
      for (const job of jobs)
        expect(isJobTerminal(job.status), `${job.name} is ${job.status}`).toBe(true);
      expect(isBatchTerminal(batch.status), `the batch is ${batch.status}`).toBe(true);
      const counts = countJobs(jobs);
      expect(counts.total).toBe(scenario.jobs.length);
      expect(counts.total).toBe(batch.total);
      expect(counts.succeeded + counts.failed + counts.cancelled).toBe(counts.total);
      expect(counts.queued).toBe(0);
      expect(counts.running).toBe(0);
      expect(percentDone(counts)).toBe(100);
    });
  });

  it("creates one batch, whichever of a submit and its replay lands first", async () => {
    await everyInterleaving(({ world, scenario }) => {
      expect(world.store.batches.size).toBe(1);
      expect(world.submitted).toEqual(
        Array.from({ length: scenario.replaySubmit === undefined ? 1 : 2 }, () => world.batchId),
      );
    });
  });

  it("never changes a terminal state, nor takes a batch or a job back in its lifecycle", async () => {
    await everyInterleaving(({ world }) => {
      const last = new Map<string, string>();
      for (const entry of world.store.history) {
        const status = (entry.after as { status: string }).status;
        const before = last.get(entry.key) ?? "queued";
        const stage = entry.key === world.batchId ? batchStage : jobStage;
        if (stage(before) === ENDED)
          expect(status, `${entry.name} changed ${entry.key}, which had ended ${before}`).toBe(
            before,
          );
        expect(
          stage(status),
          `${entry.name} took ${entry.key} from ${before} back to ${status}`,
        ).toBeGreaterThanOrEqual(stage(before));
        last.set(entry.key, status);
      }
    });
  });

  it("loses nothing emitted: every item whose emit resolved is stored and counted", async () => {
    await everyInterleaving(async ({ world, scenario, jobs }) => {
      for (const job of jobs) {
        for (const phase of scenario.phases) {
          const emitted = world.emitted
            .filter((e) => e.jobId === job.jobId && e.phase === phase)
            .map((e) => e.item)
            .sort();
          const stored = await world.outputs.readItems(
            world.batchId,
            job.jobId,
            phase,
            job.itemChunks?.[phase] ?? 0,
            { offset: 0, limit: 10_000 },
          );
          expect((stored.items as string[]).sort(), `items of ${job.name} in ${phase}`).toEqual(
            emitted,
          );
          expect(job.itemCounts?.[phase] ?? 0, `${job.name}'s count in ${phase}`).toBe(
            emitted.length,
          );
        }
      }
    });
  });

  it("ends each job as its history allows, and the batch as its jobs and the cancels that landed say", async () => {
    await everyInterleaving(({ world, scenario, batch, jobs }) => {
      const history = world.store.history;
      const finalPhase = scenario.phases.at(-1) ?? "";
      for (const job of jobs) {
        const key = `${world.batchId}/${job.jobId}`;
        const enteredCommit = history.some(
          (e) => e.key === key && e.name === "startPhase" && (e.after as JobRecord).inCommit,
        );
        // The commit fence: a commit that began is never cancelled.
        if (enteredCommit)
          expect(job.status, `${job.name} entered its commit`).not.toBe("cancelled");
        if (job.status === "succeeded")
          expect(job.phases[finalPhase]?.status, `${job.name}'s ${finalPhase}`).toBe("succeeded");
        if (job.status === "cancelled")
          expect(job.cancel ?? batch.cancel, `the intent that cancelled ${job.name}`).toBeDefined();
        if (job.status === "failed") expect(job.error, `why ${job.name} failed`).toBeDefined();
      }

      const cancelClaimed = history.some(
        (e) => e.key === world.batchId && e.name === "claimCancel",
      );
      // A cancel or a stop that landed while the batch ran, or a stop before "Finalize batch".
      if (cancelClaimed || world.abortedBeforeFinalize) expect(batch.status).toBe("cancelled");
      const counts = countJobs(jobs);
      if (batch.status === "cancelled")
        expect(cancelClaimed || counts.cancelled === counts.total, "why it is cancelled").toBe(
          true,
        );
      else expect(batch.status).toBe(finalBatchStatus(counts, false));
    });
  });

  it("answers every cancel as the batch and its jobs end", async () => {
    await everyInterleaving(({ world, batch, jobs }) => {
      const statusOf = (jobId: string) => jobs.find((job) => job.jobId === jobId)?.status;
      const nameOf = (name: string) => jobs.find((job) => job.name === name)?.status;
      for (const answer of world.answers) {
        const what = `what ${answer.actor} answered`;
        if (answer.kind === "job") {
          const status = statusOf(answer.jobId);
          if (answer.outcome === "cancelled") expect(status, what).toBe("cancelled");
          if (answer.outcome === "already_finished")
            expect(status, what).toMatch(/succeeded|failed/);
          if (answer.outcome === "in_commit") expect(status, what).not.toBe("cancelled");
        } else if (answer.kind === "jobs") {
          for (const { item, report } of answer.result.reports) {
            const status = report.job ? statusOf(report.job.jobId) : undefined;
            expect(report.outcome, `${what} for ${item}`).toMatch(
              /cancelled|already_finished|not_cancelled/,
            );
            if (report.outcome === "cancelled") expect(status, what).toBe("cancelled");
            if (report.outcome === "already_finished")
              expect(status, what).toBe(report.job?.status);
            if (report.outcome === "not_cancelled") expect(status, what).not.toBe("cancelled");
          }
        } else {
          const { result } = answer;
          if (result.status === "cancelled") {
            expect(batch.status, what).toBe("cancelled");
            for (const name of result.jobs)
              expect(nameOf(name), `${what}: ${name}`).toBe("cancelled");
            for (const name of result.inCommit)
              expect(nameOf(name), `${what}: ${name}`).not.toBe("cancelled");
          } else if (isBatchTerminal(result.batchStatus)) {
            expect(batch.status, what).toBe(result.batchStatus);
          }
        }
      }
    });
  });

  it("leaves no phase of an ended job shown as running, so the sums are never left unrecomputed", async () => {
    await everyInterleaving(({ jobs }) => {
      for (const job of jobs)
        for (const [phase, record] of Object.entries(job.phases))
          expect(record.status, `${phase} of ${job.name}, which is ${job.status}`).not.toBe(
            "running",
          );
    });
  });

  it("keeps the batch's sums equal to the sums of its jobs' numbers", async () => {
    await everyInterleaving(({ batch, jobs }) => {
      const totals = withoutZeros(batch.totals ?? {});
      expect(totals, "the batch's sums").toEqual(withoutZeros(sumNumbers(jobs)));
    });
  });
});

/** What the properties found in the core, each reduced to a few steps and kept as a regression test. */
describe("races the properties found", () => {
  it("never fails a final phase's retry that started after the stop was decided on a stale read", async () => {
    // Prepare: the final phase failed at attempt 1; the reconciler read the job then.
    const core = wireCore({
      store: new MemoryBatchStore(),
      outputs: new MemoryOutputStore(),
      engine: new RecordingEngine(),
    });
    const { batchId } = await core.submit.submit({ jobs: ["alpha"] });
    const jobId = jobIdFor(0);
    const at = new Date().toISOString();
    const failed = { status: "failed" as const, startedAt: at, endedAt: at, attempt: 1 };
    await core.store.transitionJob(
      batchId,
      jobId,
      jobTransitions.startPhase("Commit", true, at, 1),
    );
    await core.store.transitionJob(
      batchId,
      jobId,
      jobTransitions.recordPhaseFailure("Commit", failed, {}),
    );
    const staleRead = await core.store.getJob(batchId, jobId);
    // Act: the retry starts, then the stale decision is written.
    await core.store.transitionJob(
      batchId,
      jobId,
      jobTransitions.startPhase("Commit", true, at, 2),
    );
    const report = await applyJobCancel(
      core.store,
      staleRead!,
      { requestedAt: at, by: "console", reason: "stopped", scope: "batch" },
      at,
      { executionStopped: true },
    );
    // Assess: the retry runs on; the commit is never cut in half.
    expect(report).toMatchObject({ outcome: "not_cancelled", detail: "in_commit" });
    expect(await core.store.getJob(batchId, jobId)).toMatchObject({
      status: "running",
      inCommit: true,
    });
  });

  it("ends as failed a job whose commit fails after its batch was cancelled: no retry will come", async () => {
    // Prepare
    const core = wireCore(
      {
        store: new MemoryBatchStore(),
        outputs: new MemoryOutputStore(),
        engine: new RecordingEngine(),
      },
      { cancel: { settleMs: 0 } },
    );
    const { batchId } = await core.submit.submit({ jobs: ["alpha"] });
    const request = { batchId, jobId: jobIdFor(0) };
    await core.runner.run({ ...request, phase: "Ingest", isFinal: false }, returning({}));
    const commit = gate();
    const committing = core.runner.run(
      { ...request, phase: "Commit", isFinal: true },
      definePhase({
        name: "Commit",
        async run() {
          await commit.opened;
          throw new Error("the commit failed");
        },
      }),
    );
    await until(async () => (await core.store.getJob(batchId, request.jobId))?.inCommit === true);
    // Act: the cancel leaves the commit to finish; the stopped execution will neither retry the
    // commit nor record the job's failure.
    await core.cancel.cancelBatch(batchId, { by: "operator" });
    const batch = await core.store.getBatch(batchId);
    if (!batch) throw new Error("no batch");
    await core.reconciler.reconcile(cancelledExecution(batch, batch.cancel));
    commit.open();
    await expect(committing).rejects.toBeInstanceOf(PhaseFailedError);
    await core.reconciler.reconcile(cancelledExecution(batch, batch.cancel)); // a duplicated event
    // Assess
    expect((await core.store.getBatch(batchId))?.status).toBe("cancelled");
    const job = await core.store.getJob(batchId, request.jobId);
    expect(job?.status).toBe("failed");
    expect(job?.error?.name).toBe("StoppedBeforeRetry");
  });

  it("counts a job once when a reconcile runs between a phase's sums and its job's write", async () => {
    // Prepare
    const store = new HoldingStore();
    const core = wireCore(
      { store, outputs: new MemoryOutputStore(), engine: new RecordingEngine() },
      { cancel: { settleMs: 0 } },
    );
    const { batchId } = await core.submit.submit({ jobs: ["alpha"] });
    const request = { batchId, jobId: jobIdFor(0) };
    await core.runner.run(
      { ...request, phase: "Ingest", isFinal: false },
      returning({ pages: 1, scoreSum: 1 }),
    );
    const commit = gate();
    const committing = core.runner.run(
      { ...request, phase: "Commit", isFinal: true },
      definePhase({
        name: "Commit",
        async run() {
          await commit.opened;
          return { pages: 5, scoreSum: 5 };
        },
      }),
    );
    await until(async () => (await core.store.getJob(batchId, request.jobId))?.inCommit === true);
    await core.cancel.cancelBatch(batchId, { by: "operator" }); // the commit is left to finish
    // Act: the commit adds to the batch's sums, and the ABORTED event's reconcile runs before its
    // "succeed" lands on the job.
    const succeed = gate();
    store.holdTransition = { name: "succeed", until: succeed.opened };
    commit.open();
    await until(async () => store.held);
    const batch = await core.store.getBatch(batchId);
    if (!batch) throw new Error("no batch");
    await core.reconciler.reconcile(cancelledExecution(batch, batch.cancel));
    succeed.open();
    await committing;
    await core.reconciler.reconcile(cancelledExecution(batch, batch.cancel)); // a duplicated event
    // Assess
    const jobs = await core.store.listJobs(batchId);
    expect(jobs[0]?.status).toBe("succeeded");
    expect((await core.store.getBatch(batchId))?.totals).toEqual(sumNumbers(jobs));
  });
});

/** A store that holds one kind of job transition until told, and says when it holds one. */
class HoldingStore extends MemoryBatchStore {
  holdTransition: { name: string; until: Promise<void> } | undefined;
  held = false;

  override async transitionJob(batchId: string, jobId: string, transition: JobTransition) {
    if (transition.name === this.holdTransition?.name) {
      this.held = true;
      await this.holdTransition.until;
    }
    return super.transitionJob(batchId, jobId, transition);
  }
}

const returning = (output: Record<string, number>) =>
  definePhase({ name: "any", run: async () => output });

function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let tries = 0; !(await check()); tries++) {
    if (tries > 1000) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Where a status sits in its lifecycle; every terminal status is ENDED. */
const ENDED = 9;
const JOB_STAGES: Record<JobStatus, number> = {
  queued: 0,
  running: 1,
  succeeded: ENDED,
  failed: ENDED,
  cancelled: ENDED,
};
const BATCH_STAGES: Record<BatchStatus, number> = {
  queued: 0,
  running: 1,
  cancelling: 2,
  succeeded: ENDED,
  completed_with_errors: ENDED,
  failed: ENDED,
  cancelled: ENDED,
};
const jobStage = (status: string) => JOB_STAGES[status as JobStatus] ?? -1;
const batchStage = (status: string) => BATCH_STAGES[status as BatchStatus] ?? -1;

const withoutZeros = (numbers: Readonly<Record<string, number>>) =>
  Object.fromEntries(Object.entries(numbers).filter(([, value]) => value !== 0));

function describeError({ actor, error }: Interleaving["errors"][number]): string {
  return `${actor}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
}
