import { CfnOutput, type Duration, type RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { BatchApi } from "./constructs/batch-api";
import { BatchReconciler } from "./constructs/batch-reconciler";
import { BatchStorage } from "./constructs/batch-storage";
import { BatchWorkflow, type PhaseDefinition } from "./constructs/batch-workflow";

export interface StepbatchStackProps extends StackProps {
  /** @default DEFAULT_PHASES (Ingest, Digest, Commit running the demo workload) */
  readonly phases?: readonly PhaseDefinition[];
  /** @default RemovalPolicy.RETAIN for the table and buckets */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /** @default Duration.days(30) */
  readonly temporaryResultsRetention?: Duration;
}

/** The deployable stepbatch: storage, the batch workflow, the HTTPS API and the reconciler. */
export class StepbatchStack extends Stack {
  readonly storage: BatchStorage;
  readonly workflow: BatchWorkflow;
  readonly api: BatchApi;
  readonly reconciler: BatchReconciler;

  constructor(scope: Construct, id: string, props: StepbatchStackProps = {}) {
    super(scope, id, props);
    this.storage = new BatchStorage(this, "Storage", {
      ...(props.dataRemovalPolicy ? { removalPolicy: props.dataRemovalPolicy } : {}),
      ...(props.temporaryResultsRetention
        ? { temporaryResultsRetention: props.temporaryResultsRetention }
        : {}),
    });
    this.workflow = new BatchWorkflow(this, "Workflow", {
      storage: this.storage,
      ...(props.phases ? { phases: props.phases } : {}),
    });
    this.api = new BatchApi(this, "Api", {
      storage: this.storage,
      stateMachine: this.workflow.stateMachine,
      stateEnvironment: this.workflow.stateEnvironment,
    });

    this.reconciler = new BatchReconciler(this, "Reconciler", {
      storage: this.storage,
      stateMachine: this.workflow.stateMachine,
      stateEnvironment: this.workflow.stateEnvironment,
    });

    new CfnOutput(this, "ApiUrl", {
      value: this.api.api.url,
      description: "stepbatch API base URL",
    });
    new CfnOutput(this, "StateMachineArn", { value: this.workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, "TableName", { value: this.storage.table.tableName });
    new CfnOutput(this, "BucketName", { value: this.storage.bucket.bucketName });
    new CfnOutput(this, "TokenSecretArn", {
      value: this.api.tokenSecret.secretArn,
      description:
        "aws secretsmanager get-secret-value --secret-id <this> --query SecretString --output text",
    });
  }
}
