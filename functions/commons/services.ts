import { BatchStore } from "../domain/batch-store";
import { CancelService } from "../domain/cancel";
import { PhaseRunner } from "../domain/phase-runner";
import { BatchQueries } from "../domain/queries";
import { Reconciler } from "../domain/reconcile";
import { ResultStore } from "../domain/result-store";
import { ResultsService } from "../domain/results-service";
import { SubmitService } from "../domain/submit";
import { WorkflowService } from "../domain/workflow-service";
import { dynamo, s3, sfn, sqs } from "./clients";
import { config } from "./config";
import { SqsReconcileRequests, StepFunctionsWorkflow } from "./workflow";

/** The domain services wired to the SDK clients, built once per function instance on first use. */
function build() {
  const cfg = config();
  const store = new BatchStore(dynamo, cfg.TABLE_NAME);
  const resultStore = new ResultStore(s3, cfg.BUCKET_NAME);
  const workflow = new StepFunctionsWorkflow(sfn, cfg.STATE_MACHINE_ARN);
  const results = new ResultsService(store, resultStore);
  const workflowService = new WorkflowService(store, results);
  return {
    store,
    results,
    queries: new BatchQueries(store),
    submit: new SubmitService(store, workflow, workflow.executionArnFor),
    cancel: new CancelService(store, workflow, results, {
      markConcurrency: 40,
      settleMs: cfg.CANCEL_SETTLE_MS,
      manifestThreshold: cfg.MANIFEST_THRESHOLD,
      syncMarkLimit: cfg.SYNC_MARK_LIMIT,
      ...(cfg.RECONCILE_QUEUE_URL
        ? { reconcileRequests: new SqsReconcileRequests(sqs, cfg.RECONCILE_QUEUE_URL) }
        : {}),
    }),
    workflow: workflowService,
    reconciler: new Reconciler(store, workflowService, results),
    phases: new PhaseRunner(store, resultStore, {
      pollMs: cfg.CANCEL_POLL_MS,
      timeoutMarginMs: cfg.TIMEOUT_MARGIN_MS,
    }),
  };
}

let instance: ReturnType<typeof build> | undefined;

export function services(): ReturnType<typeof build> {
  instance ??= build();
  return instance;
}
