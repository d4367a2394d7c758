import { describe, expect, it } from "vitest";
import {
  clockDuration,
  jobNumbers,
  numbersDelta,
  summarize,
  summaryFields,
  sumNumbers,
} from "../../../functions/core/results.ts";
import { ratio, sum } from "../../../sdk/index.ts";
import demo from "../../../stepbatch.config.ts";

describe("a job's numbers", () => {
  it("hold the built-in jobsProcessed and items, and the pipeline's own", () => {
    const numbers = jobNumbers(
      {
        jobId: "job-00001",
        name: "RY.TO",
        outputs: { Ingest: { pages: 3, scoreSum: 120 }, Digest: { pages: 2, scoreSum: 80 } },
        items: { Ingest: 3, Digest: 2 },
      },
      demo.summary,
    );
    expect(numbers).toEqual({ jobsProcessed: 1, items: 5, pages: 5, scoreSum: 200 });
  });

  it("ignore a summary hook that throws or returns what is not a finite number", () => {
    const outcome = { jobId: "j", name: "n", outputs: {}, items: {} };
    const throwing = jobNumbers(outcome, {
      perJob: () => {
        throw new Error("bug");
      },
      fields: {},
    });
    const odd = jobNumbers(outcome, {
      perJob: () => ({ nan: Number.NaN, text: "3" as unknown as number, fine: 2 }),
      fields: {},
    });
    expect(throwing).toEqual({ jobsProcessed: 0, items: 0 });
    expect(odd).toEqual({ jobsProcessed: 0, items: 0, fine: 2 });
  });

  it("change a batch's sums by what changed since they were last added", () => {
    expect(numbersDelta({ pages: 2, items: 2 }, { pages: 5, items: 2, scoreSum: 9 })).toEqual({
      pages: 3,
      scoreSum: 9,
    });
    expect(numbersDelta(undefined, { jobsProcessed: 1 })).toEqual({ jobsProcessed: 1 });
    expect(sumNumbers([{ numbers: { a: 1 } }, { numbers: { a: 2, b: 1 } }, {}])).toEqual({
      a: 3,
      b: 1,
    });
  });
});

describe("the summary of a batch", () => {
  it("computes the pipeline's fields from the sums: sums, and ratios rounded, null over nothing", () => {
    const fields = { pagesProcessed: sum("pages"), averageScore: ratio("scoreSum", "pages") };
    expect(summaryFields({ pages: 3, scoreSum: 100 }, fields)).toEqual({
      pagesProcessed: 3,
      averageScore: 33.33,
    });
    expect(summaryFields({}, fields)).toEqual({ pagesProcessed: 0, averageScore: null });
  });

  it("spans the batch's start to its end, as milliseconds and HH:MM:SS", () => {
    const summary = summarize(
      {
        createdAt: "2026-01-01T00:00:00.000Z",
        startedAt: "2026-01-01T00:00:00.000Z",
        endedAt: "2026-01-01T01:02:03.400Z",
        totals: { jobsProcessed: 2, items: 7 },
      },
      undefined,
      new Date(),
    );
    expect(summary).toEqual({
      jobsProcessed: 2,
      hasResults: true,
      partialResults: {
        startTime: "2026-01-01T00:00:00.000Z",
        endTime: "2026-01-01T01:02:03.400Z",
        totalDuration: 3_723_400,
        totalDurationText: "01:02:03",
        items: 7,
      },
    });
    expect(clockDuration(100 * 3600 * 1000)).toBe("100:00:00");
  });
});
