import type { Duration, RemovalPolicy } from "aws-cdk-lib";
import { Construct } from "constructs";
import { parseSchedules, type ScheduleDefinition } from "../functions/core/schedules.ts";
import { BatchApi } from "./constructs/batch-api.ts";
import { BatchMonitoring } from "./constructs/batch-monitoring.ts";
import { BatchNotifications } from "./constructs/batch-notifications.ts";
import { BatchReconciler } from "./constructs/batch-reconciler.ts";
import { BatchSchedules } from "./constructs/batch-schedules.ts";
import { BatchStorage } from "./constructs/batch-storage.ts";
import { BatchWorkflow, type PhaseFunctionOptions } from "./constructs/batch-workflow.ts";
import { PROJECT_CONTEXT } from "./constructs/stepbatch-function.ts";
import { generateEntry, loadPipeline, type PipelineSource } from "./pipeline.ts";

export interface StepbatchProps {
  /**
   * The pipeline's config file: its default export is `definePipeline({...})`, with phase entries
   * relative to it. @default stepbatch.config.ts (.mts, .js, .mjs) in the current directory
   */
  readonly config?: string;
  /** @default RemovalPolicy.RETAIN for the table and buckets */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /** @default Duration.days(30) */
  readonly temporaryResultsRetention?: Duration;
  /** Scheduled batches. @default the config's `schedules` */
  readonly schedules?: readonly ScheduleDefinition[];
  /** The sweep that repairs what a crash left half-done. @default every minute, after 10 s */
  readonly sweep?: { readonly interval?: Duration; readonly strandedAfter?: Duration };
  /**
   * What each phase's function needs on AWS, keyed by phase name: function props (layers, VPC),
   * grants, policy statements, or a function of your own (see PhaseFunctionOptions).
   * @default the functions stepbatch builds, with the grants a phase needs
   */
  readonly phaseFunctions?: Readonly<Record<string, PhaseFunctionOptions>>;
}

/**
 * stepbatch in your stack: storage (DynamoDB, S3), the batch workflow (Step Functions, one Lambda
 * per phase), the HTTPS API, the reconciler, schedules, alarms and a dashboard, for the pipeline in
 * your config file. Every part is exposed for what your app needs to add.
 */
export class Stepbatch extends Construct {
  /** The pipeline as read from the config file. */
  readonly pipeline: PipelineSource;
  readonly storage: BatchStorage;
  readonly workflow: BatchWorkflow;
  readonly api: BatchApi;
  readonly reconciler: BatchReconciler;
  readonly monitoring: BatchMonitoring;
  readonly schedules: BatchSchedules;
  readonly notifications: BatchNotifications;

  constructor(scope: Construct, id: string, props: StepbatchProps = {}) {
    super(scope, id);
    this.pipeline = loadPipeline(props.config);
    const pipeline = this.pipeline;
    // Every function below is bundled from the user's project, against its lock file.
    this.node.setContext(PROJECT_CONTEXT, {
      root: pipeline.projectRoot,
      ...(pipeline.lockFile ? { lockFile: pipeline.lockFile } : {}),
    });

    this.storage = new BatchStorage(this, "Storage", {
      ...(props.dataRemovalPolicy ? { removalPolicy: props.dataRemovalPolicy } : {}),
      ...(props.temporaryResultsRetention
        ? { temporaryResultsRetention: props.temporaryResultsRetention }
        : {}),
    });
    this.workflow = new BatchWorkflow(this, "Workflow", {
      storage: this.storage,
      pipeline,
      ...(props.phaseFunctions ? { phaseFunctions: props.phaseFunctions } : {}),
    });
    this.reconciler = new BatchReconciler(this, "Reconciler", {
      storage: this.storage,
      stateMachine: this.workflow.stateMachine,
      stateEnvironment: this.workflow.stateEnvironment,
      ...(props.sweep?.interval ? { sweepInterval: props.sweep.interval } : {}),
      ...(props.sweep?.strandedAfter ? { strandedAfter: props.sweep.strandedAfter } : {}),
    });
    this.notifications = new BatchNotifications(this, "Notifications", {
      storage: this.storage,
      stateEnvironment: this.workflow.stateEnvironment,
    });
    // Whoever may see a cancelled batch's last phase stop publishes its "Batch Quiesced".
    for (const fn of [
      ...this.workflow.phaseFunctions,
      this.workflow.finalizeFunction,
      this.reconciler.function,
      this.reconciler.sweepFunction,
    ])
      this.notifications.grantPublish(fn);
    this.api = new BatchApi(this, "Api", {
      storage: this.storage,
      reconcileQueue: this.reconciler.queue,
      stateMachine: this.workflow.stateMachine,
      stateEnvironment: this.workflow.stateEnvironment,
      submitEntry: generateEntry(pipeline, "submit"),
    });
    this.schedules = new BatchSchedules(this, "Schedules", {
      schedules:
        props.schedules ??
        parseSchedules(
          { schedules: pipeline.definition.schedules ?? [] },
          `${pipeline.file} (schedules)`,
        ),
      submitEntry: generateEntry(pipeline, "scheduled-submit"),
      storage: this.storage,
      stateMachine: this.workflow.stateMachine,
      stateEnvironment: this.workflow.stateEnvironment,
    });
    this.monitoring = new BatchMonitoring(this, "Monitoring", {
      stateMachine: this.workflow.stateMachine,
      api: this.api.api,
      phaseGroup: "Phases",
      functionGroups: {
        Phases: [
          ...this.workflow.phaseFunctions,
          this.workflow.finalizeFunction,
          this.workflow.recordFailureFunction,
        ],
        Api: [...Object.values(this.api.functions), this.api.authorizerFunction],
        Background: [
          this.reconciler.function,
          this.reconciler.sweepFunction,
          this.schedules.function,
          this.notifications.webhookFunction,
        ],
      },
      deadLetterQueues: {
        Schedules: this.schedules.deadLetterQueue,
        Webhooks: this.notifications.deadLetterQueue,
      },
    });
  }
}
