import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { StepbatchStack } from "./stepbatch-stack.ts";

// This repository's own CDK app: the pipeline of stepbatch.config.ts (the demo), or the config
// file STEPBATCH_CONFIG names. A project of yours has an app like it (npx stepbatch init).
const app = new App();
new StepbatchStack(app, process.env.STEPBATCH_STACK_NAME ?? "Stepbatch", {
  description: "stepbatch: run and safely stop batches of long jobs",
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  ...(process.env.STEPBATCH_CONFIG ? { config: process.env.STEPBATCH_CONFIG } : {}),
});
// cdk-nag's AwsSolutions checks run at synth: an unacknowledged finding fails `cdk synth`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
