import type { AnyPhase, PhaseLogger, PipelineDefinition } from "../../sdk/index.ts";
import { DynamoBatchStore } from "../adapters/dynamodb/batch-store.ts";
import { EventBridgeBatchEvents } from "../adapters/eventbridge/batch-events.ts";
import { FetchWebhookPoster } from "../adapters/http/webhook-poster.ts";
import { S3OutputStore } from "../adapters/s3/output-store.ts";
import { SqsReconcileQueue } from "../adapters/sqs/reconcile-queue.ts";
import { StepFunctionsEngine } from "../adapters/stepfunctions/execution-engine.ts";
import { CancelService } from "../core/cancel.ts";
import { BatchCompletion } from "../core/completion.ts";
import { PhaseRunner } from "../core/phase-runner.ts";
import { BatchQueries } from "../core/queries.ts";
import { Quiescence } from "../core/quiesce.ts";
import { Receipts } from "../core/receipts.ts";
import { Reconciler } from "../core/reconcile.ts";
import { Results } from "../core/results.ts";
import { ResumeService } from "../core/resume.ts";
import type { InputCheck } from "../core/schemas.ts";
import { SubmitService } from "../core/submit.ts";
import { Sweeper } from "../core/sweep.ts";
import { WebhookNotifier } from "../core/webhook.ts";
import { dynamo, events, s3, sfn, sqs } from "./clients.ts";
import { config, requiredSetting } from "./config.ts";
import { logger } from "./observability.ts";

/** Builds a service on first use, then hands out the same one for the function instance's life. */
function once<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => {
    built ??= build();
    return built;
  };
}

/**
 * The core's services wired to the adapters, each built once per function instance. An entry file
 * asks for what it uses when it is loaded (at cold start), so a function deployed without a setting
 * it needs fails at once, naming the setting.
 */
export const services: Services = {
  store: once(() => new DynamoBatchStore(dynamo, config().TABLE_NAME)),
  outputs: once(() => new S3OutputStore(s3, config().BUCKET_NAME)),
  engine: once(
    () =>
      new StepFunctionsEngine(
        sfn,
        requiredSetting("STATE_MACHINE_ARN", "it starts and stops batch executions"),
      ),
  ),
  results: once(
    () =>
      new Results(services.store(), services.outputs(), {
        summaryFields: config().SUMMARY_FIELDS,
      }),
  ),
  queries: once(() => new BatchQueries(services.store())),
  receipts: once(() => new Receipts(services.store())),
  quiescence: once(
    () =>
      new Quiescence(
        services.store(),
        new EventBridgeBatchEvents(events, config().EVENT_BUS_NAME),
        config().PIPELINE_PHASES,
      ),
  ),
  webhooks: once(() => new WebhookNotifier(services.store(), new FetchWebhookPoster())),
  completion: once(
    () =>
      new BatchCompletion(services.store(), services.results(), undefined, services.quiescence()),
  ),
  reconciler: once(
    () =>
      new Reconciler(
        services.store(),
        services.completion(),
        services.results(),
        undefined,
        services.quiescence(),
      ),
  ),
  sweeper: once(() => new Sweeper(services.store(), services.engine(), services.reconciler())),
  resume: once(() => new ResumeService(services.store(), services.engine())),
  cancel: once(() => {
    const cfg = config();
    return new CancelService(services.store(), services.engine(), services.results(), {
      markConcurrency: 40,
      settleMs: cfg.CANCEL_SETTLE_MS,
      manifestThreshold: cfg.MANIFEST_THRESHOLD,
      syncMarkLimit: cfg.SYNC_MARK_LIMIT,
      ...(cfg.RECONCILE_QUEUE_URL
        ? { reconcileQueue: new SqsReconcileQueue(sqs, cfg.RECONCILE_QUEUE_URL) }
        : {}),
    });
  }),
};

interface Services {
  store(): DynamoBatchStore;
  outputs(): S3OutputStore;
  engine(): StepFunctionsEngine;
  results(): Results;
  queries(): BatchQueries;
  receipts(): Receipts;
  quiescence(): Quiescence;
  webhooks(): WebhookNotifier;
  completion(): BatchCompletion;
  reconciler(): Reconciler;
  sweeper(): Sweeper;
  resume(): ResumeService;
  cancel(): CancelService;
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
  submitter ??= new SubmitService(services.store(), services.engine(), {
    inputChecks: inputChecksOf(pipeline, phases),
    ...(pipeline.concurrency ? { defaultConcurrency: pipeline.concurrency } : {}),
  });
  return submitter;
}

function inputChecksOf(pipeline: PipelineDefinition, phases: readonly AnyPhase[]): InputCheck[] {
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
    runner = new PhaseRunner(
      services.store(),
      services.outputs(),
      {
        phases: pipeline.phases.map((phase) => phase.name),
        ...(pipeline.summary ? { summary: pipeline.summary } : {}),
      },
      {
        pollMs: cfg.CANCEL_POLL_MS,
        timeoutMarginMs: cfg.TIMEOUT_MARGIN_MS,
        quiescence: services.quiescence(),
        logger: (keys) => phaseLogger(keys),
      },
    );
  }
  return runner;
}
