import * as path from "node:path";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import {
  type BundlingOptions,
  NodejsFunction,
  type NodejsFunctionProps,
  OutputFormat,
} from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { acknowledge, acknowledgeWildcardResource, XRAY_REASON } from "../nag.ts";
import { packageModule } from "../paths.ts";

/**
 * Context key under which the Stepbatch construct records the user's project (`{root, lockFile?}`):
 * where every function is bundled from. Without it, CDK's defaults apply (the current directory).
 */
export const PROJECT_CONTEXT = "stepbatch:project";

export interface StepbatchFunctionProps {
  /**
   * Handler module: one of stepbatch's own, relative to the package (`functions/handlers/api/get-batch.ts`),
   * or an absolute path (a generated pipeline entry).
   */
  readonly entry: string;
  readonly description: string;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Extra props for the function (layers, VPC, architecture, ephemeral storage, ...), merged over
   * stepbatch's defaults: `environment` key by key (`environment` above wins), `bundling` option by
   * option (`externalModules` are added to `@aws-sdk/*`). Those in STEPBATCH_OWNED_PROPS are
   * ignored here; BatchWorkflow refuses them. With a `vpc`, the role may manage the function's
   * network interfaces.
   * @default none
   */
  readonly functionProps?: NodejsFunctionProps;
}

/**
 * Function props that stay stepbatch's whatever `functionProps` says: who the function runs as,
 * what code it runs and how that is bundled (ESM with a `createRequire` banner), and where it logs
 * (its role may write to its own log group only).
 */
export const STEPBATCH_OWNED_PROPS: {
  readonly function: readonly (keyof NodejsFunctionProps)[];
  readonly bundling: readonly (keyof BundlingOptions)[];
} = {
  function: [
    "role",
    "runtime",
    "handler",
    "entry",
    "projectRoot",
    "depsLockFilePath",
    "logGroup",
    "logRetention",
  ],
  bundling: ["format", "banner"],
};

const VPC_ACCESS_REASON =
  "As AWSLambdaVPCAccessExecutionRole: Lambda manages the network interfaces of a function in a VPC, and EC2 Describe actions support no resource-level permissions.";

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
    const entry = path.isAbsolute(props.entry) ? props.entry : packageModule(props.entry);
    const extra = props.functionProps ?? {};
    if (extra.vpc) {
      // What AWSLambdaVPCAccessExecutionRole holds, which Lambda adds only to roles it creates.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
          ],
          resources: ["*"],
        }),
      );
      acknowledge(this, "AwsSolutions-IAM5[Resource::*]", VPC_ACCESS_REASON);
    }
    this.function = new NodejsFunction(this, "Function", {
      // Yours first: what follows is stepbatch's, or a default that yours overrides.
      ...extra,
      role: this.role,
      entry,
      handler: "handler",
      description: extra.description ?? props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: extra.architecture ?? lambda.Architecture.ARM_64,
      timeout: props.timeout ?? extra.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? extra.memorySize ?? 512,
      tracing: extra.tracing ?? lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: extra.loggingFormat ?? lambda.LoggingFormat.JSON,
      ...projectOf(this, entry),
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_SERVICE_NAME: "stepbatch",
        POWERTOOLS_METRICS_NAMESPACE: "stepbatch",
        ...extra.environment,
        ...props.environment,
      },
      bundling: {
        target: "node24",
        mainFields: ["module", "main"],
        minify: true,
        sourceMap: true,
        ...extra.bundling,
        format: OutputFormat.ESM,
        // ESM bundles have no `require`; some dependencies still call it.
        banner:
          "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
        externalModules: ["@aws-sdk/*", ...(extra.bundling?.externalModules ?? [])],
      },
    });
    acknowledge(this, "AwsSolutions-IAM5[Resource::*]", XRAY_REASON);
  }

  /** Acknowledges the wildcard in one resource ARN this function's role was granted. */
  acknowledgeWildcardResource(resource: string, reason: string): void {
    acknowledgeWildcardResource(this, resource, reason);
  }
}

/**
 * Where the user's project is, as the Stepbatch construct recorded it, in NodejsFunction's terms.
 * stepbatch's own handlers sit in the project's node_modules; when they do not (a linked
 * stepbatch), the bundle's root is the folder holding both.
 */
function projectOf(
  scope: Construct,
  entry: string,
): { projectRoot?: string; depsLockFilePath?: string } {
  const project = scope.node.tryGetContext(PROJECT_CONTEXT) as
    | { root: string; lockFile?: string }
    | undefined;
  if (!project) return {};
  let root = project.root;
  while (path.relative(root, entry).startsWith("..") && path.dirname(root) !== root)
    root = path.dirname(root);
  return {
    projectRoot: root,
    ...(project.lockFile ? { depsLockFilePath: project.lockFile } : {}),
  };
}
