import { cancelledExecution } from "./execution.ts";
import type { BatchStore, ExecutionEngine } from "./ports.ts";
import type { Reconciler } from "./reconcile.ts";
import { executionInputOf } from "./submit.ts";

export interface SweepOptions {
  /** A batch in a short-lived state (queued, cancelling) this long is looked at. */
  readonly olderThanMs: number;
  /** How far back batches are looked at. */
  readonly lookbackMs: number;
}

export interface SweepResult {
  /** Batches whose submit recorded them but never started their execution: started now. */
  readonly started: string[];
  /** Batches whose execution ended while nothing listened (a cancel or a stack that died): reconciled. */
  readonly reconciled: string[];
}

/**
 * The sweep, on a schedule: repairs what a crash left half-done where no event will come.
 * - A batch still `queued` with no execution (its submit stopped between recording it and
 *   starting it) is started; StartExecution is idempotent by name, so a racing submit is harmless.
 * - A batch still `cancelling` whose execution has ended or never existed (the cancel stopped
 *   half-way, and its status change was lost) is reconciled as that status change would have.
 * It reads the list index over a time window, never a batch's jobs, and only batches in those two
 * short-lived states.
 */
export class Sweeper {
  constructor(
    private readonly store: BatchStore,
    private readonly engine: ExecutionEngine,
    private readonly reconciler: Reconciler,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async sweep(options: SweepOptions): Promise<SweepResult> {
    const now = this.now().getTime();
    const batches = await this.store.listBatchesIn(["queued", "cancelling"], {
      createdAfter: new Date(now - options.lookbackMs).toISOString(),
      createdBefore: new Date(now - options.olderThanMs).toISOString(),
    });
    const result: SweepResult = { started: [], reconciled: [] };
    for (const batch of batches) {
      const execution = await this.engine.describeExecution(batch.executionArn);
      if (batch.status === "queued" && !execution) {
        await this.engine.startExecution(batch.batchId, executionInputOf(batch));
        result.started.push(batch.batchId);
      } else if (
        batch.status === "cancelling" &&
        execution?.status !== "RUNNING" &&
        // A cancel that began a moment ago is still being applied by its own request.
        now - Date.parse(batch.cancel?.requestedAt ?? batch.createdAt) > options.olderThanMs
      ) {
        await this.reconciler.reconcile(execution ?? cancelledExecution(batch, batch.cancel));
        result.reconciled.push(batch.batchId);
      }
    }
    return result;
  }
}
