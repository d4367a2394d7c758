import { CancelService, type CancelServiceOptions } from "../../functions/core/cancel.ts";
import { BatchCompletion } from "../../functions/core/completion.ts";
import { PhaseRunner, type PhaseRunnerOptions } from "../../functions/core/phase-runner.ts";
import type { BatchStore, ExecutionEngine, OutputStore } from "../../functions/core/ports.ts";
import { BatchQueries } from "../../functions/core/queries.ts";
import { Receipts } from "../../functions/core/receipts.ts";
import { Reconciler } from "../../functions/core/reconcile.ts";
import { Results } from "../../functions/core/results.ts";
import { ResumeService } from "../../functions/core/resume.ts";
import { SubmitService } from "../../functions/core/submit.ts";
import { Sweeper } from "../../functions/core/sweep.ts";
import { demoPhase } from "../../pipelines/demo/work.ts";
import demo from "../../stepbatch.config.ts";

/**
 * The core's services over any stores, wired as functions/commons/services.ts wires them for
 * Lambda, with the demo pipeline's phases: one wiring for the emulator-backed and in-memory tests.
 */
export function wireCore<E extends ExecutionEngine, S extends BatchStore, O extends OutputStore>(
  ports: { store: S; outputs: O; engine: E },
  options: {
    cancel?: Partial<CancelServiceOptions>;
    runner?: Partial<PhaseRunnerOptions>;
  } = {},
) {
  const { store, outputs, engine } = ports;
  const results = new Results(store, outputs, { summaryFields: demo.summary?.fields ?? {} });
  const completion = new BatchCompletion(store, results);
  const reconciler = new Reconciler(store, completion, results);
  return {
    store,
    outputs,
    engine,
    results,
    queries: new BatchQueries(store),
    receipts: new Receipts(store),
    submit: new SubmitService(store, engine),
    cancel: new CancelService(store, engine, results, {
      markConcurrency: 8,
      settleMs: 2_000,
      manifestThreshold: 100,
      ...options.cancel,
    }),
    completion,
    reconciler,
    sweeper: new Sweeper(store, engine, reconciler),
    resume: new ResumeService(store, engine),
    /** The phase runner of the demo pipeline, and its phases. */
    runner: new PhaseRunner(
      store,
      outputs,
      {
        phases: demo.phases.map((phase) => phase.name),
        ...(demo.summary ? { summary: demo.summary } : {}),
      },
      { pollMs: 50, timeoutMarginMs: 0, progressEveryMs: 0, ...options.runner },
    ),
    phases: {
      Ingest: demoPhase("Ingest"),
      Digest: demoPhase("Digest"),
      Commit: demoPhase("Commit"),
    },
  };
}
