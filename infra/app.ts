import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { loadPipeline } from "./pipeline.ts";
import { DEMO_PIPELINE, StepbatchStack } from "./stepbatch-stack.ts";

const app = new App();
// The pipeline every batch runs: STEPBATCH_PIPELINE names its module (the demo by default).
const pipeline = process.env.STEPBATCH_PIPELINE
  ? await loadPipeline(process.env.STEPBATCH_PIPELINE)
  : DEMO_PIPELINE;
new StepbatchStack(app, process.env.STEPBATCH_STACK_NAME ?? "Stepbatch", {
  description: "stepbatch: run and safely stop batches of long jobs",
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  pipeline,
});
// cdk-nag's AwsSolutions checks run at synth: an unacknowledged finding fails `cdk synth`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
