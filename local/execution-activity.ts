import type { ExecutionStatus, HistoryEvent } from "./stepfunctions.ts";

/** What a state is doing, as the Step Functions console colours it. */
export type StateStatus =
  | "in-progress"
  | "succeeded"
  | "failed"
  | "caught-error"
  | "stopped"
  | "not-started";

/** How often a state of an execution was entered and how each visit ended. */
export interface StateActivity {
  status: StateStatus;
  entered: number;
  /** Visits still in the state (each job's visit of a phase inside the Map counts once). */
  running: number;
  succeeded: number;
  /** Attempts that failed, whether retried, caught or not. */
  failed: number;
  retried: number;
  caught: number;
}

/**
 * The activity of each state of one execution, read from its history as it grows: each call to
 * `update` reads only the events written since the last one, so watching a batch of 1,000 jobs
 * costs what its new events cost, not its whole history.
 */
export class ExecutionActivity {
  private readonly states = new Map<string, Omit<StateActivity, "status" | "running">>();
  /** How many events of the history have been read. */
  read = 0;
  /**
   * Whether the history was kept from the execution's start: one that ran before the local stack
   * restarted has only the failure the restart wrote, and its states cannot be told.
   */
  fromStart = false;

  update(events: readonly HistoryEvent[]): void {
    for (const event of events) {
      this.read++;
      if (event.type === "ExecutionStarted") this.fromStart = true;
      const name = stateNameOf(event);
      if (name === undefined) continue;
      const counts = this.counts(name);
      if (event.type.endsWith("StateEntered")) counts.entered++;
      else if (event.type.endsWith("StateExited")) counts.succeeded++;
      else if (event.type === "TaskFailed" || event.type.endsWith("StateFailed")) counts.failed++;
      else if (event.type === "TaskRetried") counts.retried++;
      else if (event.type === "TaskCaught") counts.caught++;
    }
  }

  /** Every state seen so far; a state not in it has not been entered. */
  snapshot(executionStatus: ExecutionStatus): Record<string, StateActivity> {
    const view: Record<string, StateActivity> = {};
    for (const [name, counts] of this.states) {
      // A failed attempt ends the visit unless it is retried (caught or not, it has left the state).
      const running = Math.max(
        0,
        counts.entered - counts.succeeded - (counts.failed - counts.retried),
      );
      const uncaught = counts.failed - counts.retried - counts.caught;
      const status: StateStatus =
        running > 0
          ? executionStatus === "RUNNING"
            ? "in-progress"
            : "stopped"
          : uncaught > 0
            ? "failed"
            : counts.caught > 0
              ? "caught-error"
              : counts.succeeded > 0
                ? "succeeded"
                : "not-started";
      view[name] = { status, running, ...counts };
    }
    return view;
  }

  private counts(name: string) {
    let counts = this.states.get(name);
    if (!counts) {
      counts = { entered: 0, succeeded: 0, failed: 0, retried: 0, caught: 0 };
      this.states.set(name, counts);
    }
    return counts;
  }
}

function stateNameOf(event: HistoryEvent): string | undefined {
  const details = (event.stateEnteredEventDetails ?? event.stateExitedEventDetails) as
    | { name?: string }
    | undefined;
  const name = details?.name ?? event.name;
  return typeof name === "string" && !event.type.startsWith("MapIteration") ? name : undefined;
}
