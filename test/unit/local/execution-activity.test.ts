import { describe, expect, it } from "vitest";
import { ExecutionActivity } from "../../../local/execution-activity.ts";
import type { HistoryEvent } from "../../../local/stepfunctions.ts";

/** History events as the local Step Functions writes them: entered, exited, failed, retried, caught. */
function history(...steps: [type: string, state: string][]): HistoryEvent[] {
  return steps.map(([type, name], i) => ({
    id: i + 1,
    previousEventId: i,
    timestamp: i,
    type,
    ...(type.endsWith("StateEntered")
      ? { stateEnteredEventDetails: { name } }
      : type.endsWith("StateExited")
        ? { stateExitedEventDetails: { name } }
        : { name }),
  }));
}

describe("an execution's activity, state by state", () => {
  it("counts the visits still in a state as in progress, and finished ones as succeeded", () => {
    // Prepare
    const activity = new ExecutionActivity();
    // Act
    activity.update(
      history(
        ["MapStateEntered", "Run jobs"],
        ["TaskStateEntered", "Ingest"],
        ["TaskStateEntered", "Ingest"],
        ["TaskStateExited", "Ingest"],
        ["TaskStateEntered", "Digest"],
      ),
    );
    const states = activity.snapshot("RUNNING");
    // Assess
    expect(states.Ingest).toMatchObject({
      status: "in-progress",
      entered: 2,
      running: 1,
      succeeded: 1,
    });
    expect(states.Digest).toMatchObject({ status: "in-progress", running: 1 });
    expect(states["Run jobs"]).toMatchObject({ status: "in-progress", running: 1 });
    expect(states.Commit).toBeUndefined();
  });

  it("keeps a retried attempt in the state, and shows a caught error apart from a failure", () => {
    // Prepare
    const activity = new ExecutionActivity();
    // Act
    activity.update(
      history(
        ["TaskStateEntered", "Digest"],
        ["TaskFailed", "Digest"],
        ["TaskRetried", "Digest"],
        ["TaskFailed", "Digest"],
        ["TaskCaught", "Digest"],
        ["TaskStateEntered", "Record job failure"],
        ["TaskStateExited", "Record job failure"],
        ["TaskStateEntered", "Commit"],
        ["TaskFailed", "Commit"],
      ),
    );
    const states = activity.snapshot("FAILED");
    // Assess
    expect(states.Digest).toMatchObject({
      status: "caught-error",
      running: 0,
      failed: 2,
      retried: 1,
      caught: 1,
    });
    expect(states["Record job failure"]).toMatchObject({ status: "succeeded" });
    expect(states.Commit).toMatchObject({ status: "failed", running: 0 });
  });

  it("shows what was still running when the execution stopped as stopped", () => {
    // Prepare
    const activity = new ExecutionActivity();
    activity.update(history(["TaskStateEntered", "Ingest"]));
    // Act
    const states = activity.snapshot("ABORTED");
    // Assess
    expect(states.Ingest).toMatchObject({ status: "stopped", running: 1 });
  });

  it("reads only the events written since it last read", () => {
    // Prepare
    const activity = new ExecutionActivity();
    const events = history(
      ["TaskStateEntered", "Ingest"],
      ["TaskStateExited", "Ingest"],
      ["TaskStateEntered", "Digest"],
    );
    activity.update(events.slice(0, 2));
    // Act
    activity.update(events.slice(activity.read));
    // Assess
    expect(activity.read).toBe(3);
    expect(activity.snapshot("RUNNING")).toMatchObject({
      Ingest: { entered: 1, succeeded: 1, status: "succeeded" },
      Digest: { entered: 1, status: "in-progress" },
    });
  });

  it("does not count a Map's iterations as visits of the Map", () => {
    // Prepare
    const activity = new ExecutionActivity();
    // Act
    activity.update(
      history(
        ["MapStateEntered", "Run jobs"],
        ["MapIterationStarted", "Run jobs"],
        ["MapIterationSucceeded", "Run jobs"],
      ),
    );
    // Assess
    expect(activity.snapshot("RUNNING")["Run jobs"]).toMatchObject({ entered: 1, running: 1 });
  });

  it("knows a history read from the execution's start from one a restart cut off", () => {
    // Prepare
    const whole = new ExecutionActivity();
    const cutOff = new ExecutionActivity();
    // Act
    whole.update(history(["ExecutionStarted", ""], ["MapStateEntered", "Run jobs"]));
    cutOff.update(history(["ExecutionFailed", ""]));
    // Assess
    expect(whole.fromStart).toBe(true);
    expect(cutOff.fromStart).toBe(false);
    expect(cutOff.read).toBe(1);
  });
});
