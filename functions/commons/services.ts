import type { AnyPhase, PhaseLogger, PipelineDefinition } from "../../sdk/index.ts";
import { BatchStore } from "../adapters/dynamodb/batch-store.ts";
import { CancelService } from "../core/cancel.ts";
import { PhaseRunner } from "../core/phase-runner.ts";
import { BatchQueries } from "../core/queries.ts";
import { Reconciler } from "../core/reconcile.ts";
import { ResultStore } from "../adapters/s3/output-store.ts";
import { ResultsService } from "../core/results-service.ts";
import type { InputCheck } from "../core/schemas.ts";
import { SubmitService } from "../core/submit.ts";
import { Sweeper } from "../core/sweep.ts";
import { WorkflowService } from "../core/completion.ts";
import { dynamo, s3, sfn, sqs } from "./clients.ts";
import { config } from "./config.ts";
import { logger } from "./observability.ts";
import { SqsReconcileRequests, StepFunctionsWorkflow } from "../adapters/stepfunctions/execution-engine.ts";

/** The domain services wired to the SDK clients, built once per function instance on first use. */
function build() {
  const cfg = config();
  const store = new BatchStore(dynamo, cfg.TABLE_NAME);
  const resultStore = new ResultStore(s3, cfg.BUCKET_NAME);
  const workflow = new StepFunctionsWorkflow(sfn, cfg.STATE_MACHINE_ARN);
  const results = new ResultsService(store, resultStore, { summaryFields: cfg.SUMMARY_FIELDS });
  const workflowService = new WorkflowService(store, results);
  const reconciler = new Reconciler(store, workflowService, results);
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
    reconciler,
    sweeper: new Sweeper(store, workflow, reconciler),
  };
}

let instance: ReturnType<typeof build> | undefined;

export function services(): ReturnType<typeof build> {
  instance ??= build();
  return instance;
}

let submitter: SubmitService | undefined;

/**
 * The submit service of a pipeline: job inputs are checked against the pipeline's schema and its
 * phases' at submit, so a bad one is a 400 rather than a job that fails later.
 */
export function pipelineSubmit(
  pipeline: PipelineDefinition,
  phases: readonly AnyPhase[],
): SubmitService {
  if (!submitter) {
    const cfg = config();
    const { store } = services();
    const workflow = new StepFunctionsWorkflow(sfn, cfg.STATE_MACHINE_ARN);
    submitter = new SubmitService(store, workflow, workflow.executionArnFor, {
      inputChecks: inputChecksOf(pipeline, phases),
      ...(pipeline.concurrency ? { defaultConcurrency: pipeline.concurrency } : {}),
    });
  }
  return submitter;
}

export function inputChecksOf(
  pipeline: PipelineDefinition,
  phases: readonly AnyPhase[],
): InputCheck[] {
  return [
    ...(pipeline.input ? [{ by: `${pipeline.name} pipeline's`, schema: pipeline.input }] : []),
    ...phases.flatMap((phase) =>
      phase.input ? [{ by: `${phase.name} phase's`, schema: phase.input }] : [],
    ),
  ];
}

/** The Powertools logger, with the job's keys, as the SDK's PhaseLogger. */
function phaseLogger(keys: Record<string, string>): PhaseLogger {
  const child = logger.createChild({ persistentKeys: keys });
  return {
    debug: (message, extra) => (extra ? child.debug(message, extra) : child.debug(message)),
    info: (message, extra) => (extra ? child.info(message, extra) : child.info(message)),
    warn: (message, extra) => (extra ? child.warn(message, extra) : child.warn(message)),
    error: (message, extra) => (extra ? child.error(message, extra) : child.error(message)),
  };
}

let runner: PhaseRunner | undefined;

/** The phase runner of a phase function, for its pipeline; built once per function instance. */
export function phaseRunner(pipeline: PipelineDefinition): PhaseRunner {
  if (!runner) {
    const cfg = config();
    const { store } = services();
    runner = new PhaseRunner(
      store,
      new ResultStore(s3, cfg.BUCKET_NAME),
      {
        phases: pipeline.phases.map((phase) => phase.name),
        ...(pipeline.summary ? { summary: pipeline.summary } : {}),
      },
      {
        pollMs: cfg.CANCEL_POLL_MS,
        timeoutMarginMs: cfg.TIMEOUT_MARGIN_MS,
        logger: (keys) => phaseLogger(keys),
      },
    );
  }
  return runner;
}
