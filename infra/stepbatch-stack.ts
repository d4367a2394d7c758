import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { Stepbatch, type StepbatchProps } from "./stepbatch.ts";

export interface StepbatchStackProps extends StackProps, StepbatchProps {}

/**
 * A stack holding stepbatch and nothing else, with its endpoints as outputs. To add stepbatch to a
 * stack of your own, use the `Stepbatch` construct.
 */
export class StepbatchStack extends Stack {
  readonly stepbatch: Stepbatch;

  constructor(scope: Construct, id: string, props: StepbatchStackProps = {}) {
    super(scope, id, props);
    // "Default" adds nothing to logical ids: the resources are named as if they were the stack's own.
    this.stepbatch = new Stepbatch(this, "Default", props);
    const { api, workflow, storage, monitoring } = this.stepbatch;
    new CfnOutput(this, "ApiUrl", { value: api.api.url, description: "stepbatch API base URL" });
    new CfnOutput(this, "StateMachineArn", { value: workflow.stateMachine.stateMachineArn });
    new CfnOutput(this, "TableName", { value: storage.table.tableName });
    new CfnOutput(this, "BucketName", { value: storage.bucket.bucketName });
    new CfnOutput(this, "DashboardName", { value: monitoring.dashboard.dashboardName });
    new CfnOutput(this, "TokenSecretArn", {
      value: api.tokenSecret.secretArn,
      description:
        "aws secretsmanager get-secret-value --secret-id <this> --query SecretString --output text",
    });
  }

  get storage() {
    return this.stepbatch.storage;
  }
  get workflow() {
    return this.stepbatch.workflow;
  }
  get api() {
    return this.stepbatch.api;
  }
  get reconciler() {
    return this.stepbatch.reconciler;
  }
  get monitoring() {
    return this.stepbatch.monitoring;
  }
  get schedules() {
    return this.stepbatch.schedules;
  }
}
