import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CfnOutput, type Duration, type RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { parseSchedules, type ScheduleDefinition } from "../functions/domain/schedules.ts";
import demo from "../pipelines/demo/pipeline.ts";
import { BatchApi } from "./constructs/batch-api.ts";
import { BatchMonitoring } from "./constructs/batch-monitoring.ts";
import { BatchReconciler } from "./constructs/batch-reconciler.ts";
import { BatchSchedules } from "./constructs/batch-schedules.ts";
import { BatchStorage } from "./constructs/batch-storage.ts";
import { BatchWorkflow, type PhaseFunctionOptions } from "./constructs/batch-workflow.ts";
import { PROJECT_ROOT } from "./constructs/stepbatch-function.ts";
import { generateEntry, type PipelineSource } from "./pipeline.ts";

/** The pipeline this repository runs by default: the deterministic demo. */
export const DEMO_PIPELINE: PipelineSource = {
  definition: demo,
  file: "pipelines/demo/pipeline.ts",
};

export interface StepbatchStackProps extends StackProps {
  /** The pipeline every batch runs. @default DEMO_PIPELINE */
  readonly pipeline?: PipelineSource;
  /** @default RemovalPolicy.RETAIN for the table and buckets */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /** @default Duration.days(30) */
  readonly temporaryResultsRetention?: Duration;
  /** Scheduled batches. @default those in config/schedules.json */
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

/** The scheduled batches of config/schedules.json, validated like POST /batches bodies. */
export function schedulesFromConfig(
  file = join(PROJECT_ROOT, "config", "schedules.json"),
): ScheduleDefinition[] {
  return parseSchedules(JSON.parse(readFileSync(file, "utf8")), file);
}

/** The deployable stepbatch: storage, the batch workflow, the HTTPS API and the reconciler. */
export class StepbatchStack extends Stack {
  readonly storage: BatchStorage;
  readonly workflow: BatchWorkflow;
  readonly api: BatchApi;
  readonly reconciler: BatchReconciler;
  readonly monitoring: BatchMonitoring;
  readonly schedules: BatchSchedules;

  constructor(scope: Construct, id: string, props: StepbatchStackProps = {}) {
    super(scope, id, props);
    this.storage = new BatchStorage(this, "Storage", {
      ...(props.dataRemovalPolicy ? { removalPolicy: props.dataRemovalPolicy } : {}),
      ...(props.temporaryResultsRetention
        ? { temporaryResultsRetention: props.temporaryResultsRetention }
        : {}),
    });
    const pipeline = props.pipeline ?? DEMO_PIPELINE;
    this.workflow = new BatchWorkflow(this, "Workflow", {
      storage: this.storage,
      pipeline,
      phaseFunctions: props.phaseFunctions,
    });
    this.reconciler = new BatchReconciler(this, "Reconciler", {
      storage: this.storage,
      stateMachine: this.workflow.stateMachine,
      stateEnvironment: this.workflow.stateEnvironment,
      ...(props.sweep?.interval ? { sweepInterval: props.sweep.interval } : {}),
      ...(props.sweep?.strandedAfter ? { strandedAfter: props.sweep.strandedAfter } : {}),
    });

    this.api = new BatchApi(this, "Api", {
      storage: this.storage,
      reconcileQueue: this.reconciler.queue,
      stateMachine: this.workflow.stateMachine,
      stateEnvironment: this.workflow.stateEnvironment,
      submitEntry: generateEntry(pipeline, "submit"),
    });

    this.schedules = new BatchSchedules(this, "Schedules", {
      schedules: props.schedules ?? schedulesFromConfig(),
      submitEntry: generateEntry(pipeline, "scheduled-submit"),
      storage: this.storage,
      stateMachine: this.workflow.stateMachine,
      stateEnvironment: this.workflow.stateEnvironment,
    });

    this.monitoring = new BatchMonitoring(this, "Monitoring", {
      stateMachine: this.workflow.stateMachine,
      api: this.api.api,
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
        ],
      },
      deadLetterQueues: { Schedules: this.schedules.deadLetterQueue },
    });

    new CfnOutput(this, "ApiUrl", {
      value: this.api.api.url,
      description: "stepbatch API base URL",
    });
    new CfnOutput(this, "StateMachineArn", { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, "TableName", { value: this.storage.table.tableName });
    new CfnOutput(this, "BucketName", { value: this.storage.bucket.bucketName });
    new CfnOutput(this, "DashboardName", { value: this.monitoring.dashboard.dashboardName });
    new CfnOutput(this, "TokenSecretArn", {
      value: this.api.tokenSecret.secretArn,
      description:
        "aws secretsmanager get-secret-value --secret-id <this> --query SecretString --output text",
    });
  }
}
