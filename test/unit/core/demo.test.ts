import { describe, expect, it } from "vitest";
import { DemoFailureError, demoPhase, pageScore } from "../../../pipelines/demo/work.ts";
import { runPhase } from "../../helpers/phase-context.ts";

const digest = demoPhase("Digest");

describe("the demo pipeline's phases", () => {
  it("emit every page with a score that depends only on job, phase and page, and return the sums", async () => {
    // Act
    const first = await runPhase(digest, { input: { pages: 3, workMs: 3 }, name: "RY.TO" });
    const again = await runPhase(digest, { input: { pages: 3, workMs: 3 }, name: "RY.TO" });
    // Assess
    const pages = [1, 2, 3].map((page) => ({ page, score: pageScore("RY.TO", "Digest", page) }));
    expect(first.emitted).toEqual(pages);
    expect(again.emitted).toEqual(first.emitted);
    expect(first.output).toEqual({
      pages: 3,
      scoreSum: Math.round(pages.reduce((sum, p) => sum + p.score, 0) * 100) / 100,
    });
    expect(first.progress).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    for (const page of pages) expect(page.score).toBeGreaterThanOrEqual(0);
    for (const page of pages) expect(page.score).toBeLessThanOrEqual(100);
  });

  it("go on from their checkpoint", async () => {
    const resumed = await runPhase(digest, {
      input: { pages: 4, workMs: 4 },
      checkpoint: { nextPage: 3, scoreSum: 10 },
    });
    expect(resumed.emitted.map((item: any) => item.page)).toEqual([3, 4]);
    expect(resumed.output.pages).toBe(4);
    expect(resumed.saved.at(-1)).toMatchObject({ nextPage: 5 });
  });

  it("stop at the next safe point when the signal fires, returning the pages done", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 120);
    const result = await runPhase(digest, {
      input: { pages: 10, workMs: 1000 },
      signal: controller.signal,
    });
    expect(result.output.pages).toBeGreaterThan(0);
    expect(result.output.pages).toBeLessThan(10);
    expect(result.emitted).toHaveLength(result.output.pages);
  });

  it("throw in the phase named by failIn, and only there", async () => {
    await expect(runPhase(digest, { input: { failIn: "Digest" } })).rejects.toBeInstanceOf(
      DemoFailureError,
    );
    await expect(
      runPhase(digest, { input: { failIn: "Ingest", pages: 1, workMs: 1 } }),
    ).resolves.toMatchObject({ output: { pages: 1 } });
  });
});
