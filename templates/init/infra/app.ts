import { App, Stack } from "aws-cdk-lib";
import { Stepbatch } from "stepbatch/cdk";

// Your CDK app: a stack holding stepbatch for the pipeline of stepbatch.config.ts. Add your own
// resources beside it, and give a phase what it needs through the construct's `phases` option.
const app = new App();
const stack = new Stack(app, "MyBatches", {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
const stepbatch = new Stepbatch(stack, "Stepbatch");
stack.exportValue(stepbatch.api.api.url, { name: "MyBatchesApiUrl" });
app.synth();
