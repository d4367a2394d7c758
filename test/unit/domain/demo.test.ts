import { describe, expect, it } from "vitest";
import { DemoFailureError, demoWork, pageScore } from "../../../functions/workload/demo";

const context = (input: Record<string, unknown>, signal = new AbortController().signal) => ({
  batchId: "b",
  jobId: "job-00001",
  jobName: "RY.TO",
  phase: "Digest",
  input,
  attempt: 1,
  signal,
});

describe("the demo workload", () => {
  it("processes every page with scores that depend only on job, phase and page", async () => {
    const first = await demoWork(context({ pages: 3, workMs: 3 }));
    const again = await demoWork(context({ pages: 3, workMs: 3 }));
    expect(first).toEqual({
      completed: true,
      pages: [1, 2, 3].map((page) => ({ page, score: pageScore("RY.TO", "Digest", page) })),
    });
    expect(again).toEqual(first);
    for (const page of first.pages) expect(page.score).toBeGreaterThanOrEqual(0);
    for (const page of first.pages) expect(page.score).toBeLessThanOrEqual(100);
  });

  it("stops at the next safe point when the signal fires, keeping the pages done", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 120);
    const result = await demoWork(context({ pages: 10, workMs: 1000 }, controller.signal));
    expect(result.completed).toBe(false);
    expect(result.pages.length).toBeGreaterThan(0);
    expect(result.pages.length).toBeLessThan(10);
  });

  it("throws in the phase named by failIn", async () => {
    await expect(demoWork(context({ failIn: "Digest" }))).rejects.toBeInstanceOf(DemoFailureError);
    await expect(
      demoWork(context({ failIn: "Ingest", pages: 1, workMs: 1 })),
    ).resolves.toMatchObject({ completed: true });
  });
});
