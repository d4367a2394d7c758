import { describe, expect, it } from "vitest";
import { type PhaseOutput, summarizeResults } from "../../../functions/domain/results";

const output = (over: Partial<PhaseOutput>): PhaseOutput => ({
  batchId: "b",
  jobId: "job-00001",
  jobName: "RY.TO",
  phase: "Ingest",
  status: "complete",
  attempt: 1,
  startedAt: "2026-01-01T00:00:00.000Z",
  endedAt: "2026-01-01T00:00:01.000Z",
  pages: [],
  ...over,
});

describe("summarising phase outputs", () => {
  it("adds pages over phases and jobs, averages every score, and spans the first start to the last end", () => {
    // Prepare
    const outputs = [
      output({
        pages: [
          { page: 1, score: 10 },
          { page: 2, score: 20 },
        ],
      }),
      output({
        phase: "Digest",
        status: "partial",
        startedAt: "2026-01-01T00:00:01.000Z",
        endedAt: "2026-01-01T00:00:03.500Z",
        pages: [{ page: 1, score: 30 }],
      }),
      output({
        jobId: "job-00002",
        jobName: "TD.TO",
        phase: "Ingest",
        status: "error",
        pages: [],
        error: { name: "DemoFailure", message: "boom" },
      }),
    ];
    // Act
    const summary = summarizeResults(outputs);
    // Assess
    expect(summary.jobsProcessed).toBe(1);
    expect(summary.hasResults).toBe(true);
    expect(summary.partialResults).toMatchObject({
      processedJobs: 1,
      pagesProcessed: 3,
      averageScore: 20,
      startTime: "2026-01-01T00:00:00.000Z",
      endTime: "2026-01-01T00:00:03.500Z",
      totalDuration: 3500,
      errors: [{ jobId: "job-00002", name: "TD.TO", phase: "Ingest", message: "boom" }],
    });
    expect(summary.partialResults.jobs[0]?.phases).toEqual([
      { phase: "Ingest", status: "complete", pages: 2 },
      { phase: "Digest", status: "partial", pages: 1 },
    ]);
  });

  it("says there are no results when nothing was saved", () => {
    const summary = summarizeResults([]);
    expect(summary).toMatchObject({ jobsProcessed: 0, hasResults: false });
    expect(summary.partialResults).toMatchObject({
      pagesProcessed: 0,
      averageScore: null,
      startTime: null,
      totalDuration: null,
    });
  });
});
