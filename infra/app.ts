import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { StepbatchStack } from "./stepbatch-stack";

const app = new App();
new StepbatchStack(app, process.env.STEPBATCH_STACK_NAME ?? "Stepbatch", {
  description: "stepbatch: run and safely stop batches of long jobs",
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// cdk-nag's AwsSolutions checks run at synth: an unacknowledged finding fails `cdk synth`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
