import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { type Api, client, type E2ETarget, waitForBatchEnd } from "../helpers/e2e.ts";

/**
 * A burst of concurrent batches with random cancels (whole batches, subsets, single jobs) at
 * random moments. Afterwards every job must have ended exactly once, the counts must add up,
 * and every phase a job completed must have its output retrievable. Seeded, so a failure can be
 * replayed: STEPBATCH_FAULT_SEED=<seed> npm run test:faults.
 */
const BATCHES = Number(process.env.STEPBATCH_FAULT_BATCHES ?? 20);
const JOBS = Number(process.env.STEPBATCH_FAULT_JOBS ?? 50);
const SEED = Number(process.env.STEPBATCH_FAULT_SEED ?? Date.now() % 100_000);

let stack: LocalStack;
let api: Api;
beforeAll(async () => {
  stack = await startLocalStack({ port: 0 });
  api = client({ apiUrl: stack.apiUrl, token: stack.token } as E2ETarget);
});
afterAll(async () => stack?.stop());

/** mulberry32: a small seeded random generator. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(`a burst of ${BATCHES} batches of ${JOBS} jobs with random cancels (seed ${SEED})`, () => {
  it("ends every job exactly once, and loses no completed phase output", async () => {
    const rand = random(SEED);
    const figures = {
      batches: 0,
      jobs: 0,
      batchCancels: 0,
      subsetCancels: 0,
      jobCancels: 0,
      phasesCompleted: 0,
      outputsMissing: 0,
    };

    // Act: submit everything at once, then cancel at random moments.
    const plans = Array.from({ length: BATCHES }, (_, b) => ({
      b,
      kind: rand() < 0.35 ? "batch" : rand() < 0.6 ? "subset" : rand() < 0.8 ? "job" : "none",
      delayMs: Math.floor(rand() * 3000),
      picks: Array.from({ length: 5 }, () => 1 + Math.floor(rand() * JOBS)),
    }));
    const runs = await Promise.all(
      plans.map(async (plan) => {
        const jobs = Array.from({ length: JOBS }, (_, j) => ({
          name: `b${plan.b}-j${j}`,
          input: { pages: 2, workMs: 40 + Math.floor(rand() * 80) },
        }));
        const submitted = await api.submit({ name: `burst ${plan.b}`, jobs, concurrency: 10 });
        expect(submitted.status).toBe(202);
        const { batchId } = submitted.body;
        await new Promise((resolve) => setTimeout(resolve, plan.delayMs));
        const ids = [...new Set(plan.picks)].map((n) => `job-${String(n).padStart(5, "0")}`);
        if (plan.kind === "batch") {
          figures.batchCancels++;
          expect((await api.cancel(batchId, { reason: "burst" })).status).toBe(200);
        } else if (plan.kind === "subset") {
          figures.subsetCancels++;
          expect((await api.cancel(batchId, { jobs: ids })).status).toBe(200);
        } else if (plan.kind === "job") {
          figures.jobCancels++;
          expect([200, 409]).toContain((await api.cancelJob(batchId, ids[0] as string)).status);
        }
        return batchId as string;
      }),
    );
    const ended = await Promise.all(runs.map((batchId) => waitForBatchEnd(api, batchId, 300_000)));

    // Assess
    for (const [i, batch] of ended.entries()) {
      figures.batches++;
      const p = batch.progress;
      expect(p.total).toBe(JOBS);
      expect(p.queued + p.running).toBe(0);
      expect(p.succeeded + p.failed + p.cancelled).toBe(JOBS);
      expect(p.failed).toBe(0);
      for (const line of batch.jobs) {
        figures.jobs++;
        const detail = (await api.job(runs[i] as string, line.jobId)).body;
        const output = (
          await api.call("GET", `/batches/${runs[i]}/jobs/${line.jobId}/output?items=0`)
        ).body;
        const saved = new Map<string, string>(
          output.phases.map((ph: any) => [ph.phase, ph.status]),
        );
        expect(["succeeded", "cancelled"]).toContain(detail.status);
        expect(detail.endedAt).toBeTruthy();
        for (const phase of detail.phases.filter((ph: any) => ph.status === "succeeded")) {
          figures.phasesCompleted++;
          if (saved.get(phase.name) !== "complete") figures.outputsMissing++;
        }
        if (detail.status === "succeeded")
          expect(detail.phases.map((ph: any) => ph.name)).toEqual(["Ingest", "Digest", "Commit"]);
      }
    }
    // The figures go to a file, not the test output (the issue notes quote them).
    const dir = join(tmpdir(), "stepbatch-faults");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "burst.json"), `${JSON.stringify({ seed: SEED, ...figures })}\n`);
    expect(figures.jobs).toBe(BATCHES * JOBS);
    expect(figures.outputsMissing).toBe(0);
  });
});
