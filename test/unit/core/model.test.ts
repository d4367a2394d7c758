import { describe, expect, it } from "vitest";
import { decideJobCancel } from "../../../functions/core/job-cancel.ts";
import {
  countJobs,
  finalBatchStatus,
  type JobStatus,
  percentDone,
} from "../../../functions/core/model.ts";

const jobs = (...statuses: JobStatus[]) => statuses.map((status) => ({ status }));

describe("what a cancel may do to a job", () => {
  it.each([
    [{ status: "queued" }, "cancel_queued"],
    [{ status: "running" }, "cancel_running"],
    [{ status: "running", inCommit: false }, "cancel_running"],
    [{ status: "running", inCommit: true }, "in_commit"],
    [{ status: "cancelled" }, "already_cancelled"],
    [{ status: "succeeded" }, "already_finished"],
    [{ status: "failed" }, "already_finished"],
  ] as const)("decides %o -> %s", (job, decision) => {
    expect(decideJobCancel({ phases: {}, ...job })).toBe(decision);
  });

  const commitThat = (status: "running" | "failed") => ({
    status: "running" as const,
    inCommit: true,
    phase: "Commit",
    phases: { Commit: { status, startedAt: "2026-11-23T12:00:00.000Z", attempt: 1 } },
  });

  it("leaves a job whose final phase runs to finish, even once the execution is stopped", () => {
    expect(decideJobCancel(commitThat("running"), { executionStopped: true })).toBe("in_commit");
  });

  it("leaves a failed final phase to its retry while the execution runs", () => {
    expect(decideJobCancel(commitThat("failed"))).toBe("in_commit");
  });

  it("ends a job whose final phase failed once the execution is stopped: no retry will come", () => {
    expect(decideJobCancel(commitThat("failed"), { executionStopped: true })).toBe(
      "fail_stranded_commit",
    );
  });
});

describe("a finished batch's status", () => {
  it.each([
    [jobs("succeeded", "succeeded"), false, "succeeded"],
    [jobs("succeeded", "failed"), false, "completed_with_errors"],
    [jobs("succeeded", "cancelled"), false, "completed_with_errors"],
    [jobs("failed", "failed"), false, "failed"],
    [jobs("failed", "cancelled"), false, "completed_with_errors"],
    [jobs("cancelled", "cancelled"), false, "cancelled"],
    [jobs("succeeded", "succeeded"), true, "cancelled"],
  ] as const)("is %j (cancel requested: %s) -> %s", (list, cancelRequested, expected) => {
    expect(finalBatchStatus(countJobs(list), cancelRequested)).toBe(expected);
  });
});

describe("progress", () => {
  it("counts each status and the share of jobs that ended", () => {
    const counts = countJobs(
      jobs("queued", "running", "succeeded", "failed", "cancelled", "succeeded"),
    );
    expect(counts).toEqual({
      total: 6,
      queued: 1,
      running: 1,
      succeeded: 2,
      failed: 1,
      cancelled: 1,
    });
    expect(percentDone(counts)).toBe(66.6);
  });

  it("counts running jobs by their phases' progress, and rounds down so 100 means every job ended", () => {
    const counts = { total: 3, queued: 0, running: 1, succeeded: 2, failed: 0, cancelled: 0 };
    expect(percentDone(counts, 0.5)).toBe(83.3);
    expect(percentDone(counts, 0.9999)).toBe(99.9);
  });

  it("calls an empty batch done", () => {
    expect(percentDone(countJobs([]))).toBe(100);
  });
});
