import { App, CfnOutput, Stack } from "aws-cdk-lib";
import { Stepbatch } from "stepbatch/cdk";

// Your CDK app: a stack holding stepbatch for the pipeline of stepbatch.config.ts. Add your own
// resources beside it, and give a phase what it needs on AWS through the construct's
// `phaseFunctions` option (function props, grants, policy statements, a function of your own).
const app = new App();
const stack = new Stack(app, "__STACK_NAME__", {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
const stepbatch = new Stepbatch(stack, "Stepbatch");
new CfnOutput(stack, "ApiUrl", { value: stepbatch.api.api.url });
new CfnOutput(stack, "TokenSecretArn", {
  value: stepbatch.api.tokenSecret.secretArn,
  description:
    "The API token: aws secretsmanager get-secret-value --secret-id <this> --query SecretString --output text",
});
app.synth();
