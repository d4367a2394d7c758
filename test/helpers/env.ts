import demo from "../../stepbatch.config.ts";

// Loaded before every test file (vitest setupFiles): settings the handlers read at cold start,
// and Powertools kept quiet. Nothing here reaches AWS.
process.env.AWS_REGION ??= "us-east-1";
process.env.AWS_ACCESS_KEY_ID ??= "test";
process.env.AWS_SECRET_ACCESS_KEY ??= "test";
process.env.TABLE_NAME ??= "stepbatch-test";
process.env.BUCKET_NAME ??= "stepbatch-test";
process.env.STATE_MACHINE_ARN ??=
  "arn:aws:states:us-east-1:123456789012:stateMachine:stepbatch-test";
process.env.TOKEN_SECRET_ARN ??=
  "arn:aws:secretsmanager:us-east-1:123456789012:secret:stepbatch-token";
// The demo pipeline's summary fields, as the construct gives them to every function.
process.env.SUMMARY_FIELDS ??= JSON.stringify(demo.summary?.fields ?? {});
process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";
// Local stacks started by tests log errors only: a passing run prints nothing but results.
process.env.STEPBATCH_LOG_LEVEL ??= "ERROR";
process.env.POWERTOOLS_TRACE_ENABLED ??= "false";
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
