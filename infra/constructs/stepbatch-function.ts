import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { acknowledge, acknowledgeWildcardResource, XRAY_REASON } from "../nag.ts";

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface StepbatchFunctionProps {
  /** Handler module, relative to the project root, e.g. `functions/handlers/api/get-batch.ts`. */
  readonly entry: string;
  readonly description: string;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A Node.js 24 Lambda bundled as ESM by local esbuild, with X-Ray tracing, its own log group with
 * a retention, and Powertools settings. Every stepbatch function is one of these.
 */
export class StepbatchFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: logs.LogGroup;
  /** The function's own role: its log group and X-Ray, plus what its grants add. */
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: StepbatchFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An own role instead of AWSLambdaBasicExecutionRole: it may write to its own log group only.
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
    });
    this.logGroup.grantWrite(this.role);
    this.function = new NodejsFunction(this, "Function", {
      role: this.role,
      entry: path.join(PROJECT_ROOT, props.entry),
      handler: "handler",
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, "package-lock.json"),
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_SERVICE_NAME: "stepbatch",
        POWERTOOLS_METRICS_NAMESPACE: "stepbatch",
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: "node24",
        mainFields: ["module", "main"],
        minify: true,
        sourceMap: true,
        // ESM bundles have no `require`; some dependencies still call it.
        banner:
          "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
        externalModules: ["@aws-sdk/*"],
      },
    });
    acknowledge(this, "AwsSolutions-IAM5[Resource::*]", XRAY_REASON);
  }

  /** Acknowledges the wildcard in one resource ARN this function's role was granted. */
  acknowledgeWildcardResource(resource: string, reason: string): void {
    acknowledgeWildcardResource(this, resource, reason);
  }
}
