import { App } from "aws-cdk-lib";
import { ENTRY_METADATA } from "../infra/constructs/stepbatch-function.ts";
import { StepbatchStack, type StepbatchStackProps } from "../infra/stepbatch-stack.ts";

export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_REGION = "us-east-1";

type Resources = Record<string, { Type: string; Properties?: any; Metadata?: any }>;

export interface LocalFunction {
  readonly logicalId: string;
  readonly arn: string;
  /** Handler module relative to the project root. */
  readonly entry: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly environment: Record<string, string>;
}

export interface LocalRoute {
  readonly method: string;
  /** API Gateway resource path, e.g. `/batches/{batchId}/cancel`. */
  readonly path: string;
  readonly functionArn: string;
  readonly authorizerFunctionArn?: string;
}

/** Everything the local stack runs, read from the synthesized CloudFormation template. */
export interface LocalAppModel {
  readonly tableName: string;
  readonly bucketName: string;
  readonly stateMachineArn: string;
  readonly tokenSecretArn: string;
  readonly definition: Record<string, any>;
  readonly functions: ReadonlyMap<string, LocalFunction>;
  readonly routes: readonly LocalRoute[];
  /** Functions fed by the SQS queues that the execution-status rules target. */
  readonly statusChangeConsumers: readonly StatusChangeConsumer[];
  /** EventBridge Scheduler schedules, by their configured name. */
  readonly schedules: readonly LocalSchedule[];
  readonly queues: readonly LocalQueue[];
  /** EventBridge rules on a rate, with the functions they invoke. */
  readonly scheduledRules: readonly LocalScheduledRule[];
}

export interface LocalScheduledRule {
  readonly arn: string;
  readonly expression: string;
  /** The rate in milliseconds (`rate(N unit)`); cron rules are not run locally. */
  readonly everyMs?: number;
  readonly functionArns: readonly string[];
}

export interface LocalQueue {
  readonly url: string;
  readonly arn: string;
}

export interface LocalSchedule {
  /** The name in config/schedules.json (the deployed name has the stack's prefix). */
  readonly name: string;
  readonly expression: string;
  readonly timezone: string;
  readonly enabled: boolean;
  readonly functionArn: string;
  /** The target input, with `<aws.scheduler.*>` placeholders still in it. */
  readonly input: string;
}

export interface StatusChangeConsumer {
  readonly functionArn: string;
  readonly queueArn: string;
  readonly maxReceiveCount: number;
  /** The EventBridge rule's pattern, resolved. */
  readonly pattern: Record<string, unknown>;
}

/**
 * Synthesizes the very stack `cdk deploy` deploys (without bundling code) and returns its template.
 * The stack name only shapes logical ids, which do not depend on it.
 */
export function synthesizeTemplate(props: StepbatchStackProps = {}): { Resources: Resources } {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new StepbatchStack(app, "Stepbatch", props);
  const assembly = app.synth();
  return assembly.getStackByName(stack.stackName).template as { Resources: Resources };
}

/** Reads the local model from a template: local names for physical resources, ARNs for Lambdas. */
export function readAppModel(
  template: { Resources: Resources },
  options: { sqsEndpoint?: string } = {},
): LocalAppModel {
  const resources = template.Resources;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const single = (type: string) => {
    const found = ofType(type);
    if (found.length !== 1)
      throw new Error(`the template should hold one ${type}, it holds ${found.length}`);
    return found[0] as [string, Resources[string]];
  };

  const [tableId] = single("AWS::DynamoDB::Table");
  const [stateMachineId, stateMachine] = single("AWS::StepFunctions::StateMachine");
  const [secretId] = single("AWS::SecretsManager::Secret");
  const buckets = ofType("AWS::S3::Bucket");
  // The results bucket is the one the functions are told about (BUCKET_NAME), not its access-log bucket.
  const bucketId = buckets.find(([id]) =>
    JSON.stringify(resources).includes(`"BUCKET_NAME":{"Ref":"${id}"}`),
  )?.[0];
  if (!bucketId)
    throw new Error("no function of the template names a results bucket (BUCKET_NAME)");

  const names = new Map<string, string>([
    [tableId, "stepbatch-state"],
    [bucketId, "stepbatch-results"],
    [
      stateMachineId,
      `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:stepbatch-batches`,
    ],
    [
      secretId,
      `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:stepbatch-api-token`,
    ],
  ]);
  for (const [id] of ofType("AWS::Lambda::Function")) {
    names.set(id, `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${id}`);
  }
  for (const [id] of ofType("AWS::SQS::Queue")) {
    names.set(id, `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${id}`);
  }
  // A queue's Ref is its URL (GetAtt Arn its ARN): URLs point at the local SQS service.
  const refs = new Map<string, string>();
  const queues: LocalQueue[] = [];
  for (const [id] of ofType("AWS::SQS::Queue")) {
    const url = `${options.sqsEndpoint ?? "http://127.0.0.1"}/${LOCAL_ACCOUNT}/${id}`;
    refs.set(id, url);
    queues.push({ url, arn: names.get(id) as string });
  }
  const resolve = (value: unknown) => resolveIntrinsics(value, names, refs);

  const functions = new Map<string, LocalFunction>();
  for (const [id, fn] of ofType("AWS::Lambda::Function")) {
    const entry = fn.Metadata?.[ENTRY_METADATA];
    if (typeof entry !== "string") continue; // not a stepbatch handler (e.g. a CDK custom resource)
    const arn = names.get(id) as string;
    const environment = resolve(fn.Properties?.Environment?.Variables ?? {}) as Record<
      string,
      string
    >;
    functions.set(arn, {
      logicalId: id,
      arn,
      entry,
      timeoutSeconds: Number(fn.Properties?.Timeout ?? 3),
      memoryMb: Number(fn.Properties?.MemorySize ?? 128),
      environment,
    });
  }

  const routes: LocalRoute[] = [];
  const pathOf = (resourceRef: unknown): string => {
    const ref = resourceRef as { Ref?: string; "Fn::GetAtt"?: [string, string] };
    if (ref["Fn::GetAtt"]?.[1] === "RootResourceId") return "";
    const resource = ref.Ref ? resources[ref.Ref] : undefined;
    if (!resource) throw new Error(`unknown API resource ${JSON.stringify(resourceRef)}`);
    return `${pathOf(resource.Properties.ParentId)}/${resource.Properties.PathPart}`;
  };
  for (const [, method] of ofType("AWS::ApiGateway::Method")) {
    const props = method.Properties;
    if (props.HttpMethod === "OPTIONS" || props.Integration?.Type !== "AWS_PROXY") continue;
    const functionArn = lambdaArnIn(resolve(props.Integration.Uri));
    const authorizer = props.AuthorizerId?.Ref ? resources[props.AuthorizerId.Ref] : undefined;
    routes.push({
      method: props.HttpMethod,
      path: pathOf(props.ResourceId) || "/",
      functionArn,
      ...(authorizer
        ? { authorizerFunctionArn: lambdaArnIn(resolve(authorizer.Properties.AuthorizerUri)) }
        : {}),
    });
  }

  const statusChangeConsumers: StatusChangeConsumer[] = [];
  const scheduledRules: LocalScheduledRule[] = [];
  for (const [id, rule] of ofType("AWS::Events::Rule")) {
    if (rule.Properties.ScheduleExpression) {
      const expression = String(rule.Properties.ScheduleExpression);
      const everyMs = rateMs(expression);
      scheduledRules.push({
        arn: `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${id}`,
        expression,
        ...(everyMs ? { everyMs } : {}),
        functionArns: (rule.Properties.Targets ?? [])
          .map((target: { Arn?: unknown }) => String(resolve(target.Arn)))
          .filter((arn: string) => arn.startsWith("arn:aws:lambda:")),
      });
      continue;
    }
    if (
      !JSON.stringify(rule.Properties.EventPattern ?? {}).includes(
        "Step Functions Execution Status Change",
      )
    )
      continue;
    for (const target of rule.Properties.Targets ?? []) {
      const queueId = target.Arn?.["Fn::GetAtt"]?.[0];
      for (const [, mapping] of ofType("AWS::Lambda::EventSourceMapping")) {
        if (mapping.Properties.EventSourceArn?.["Fn::GetAtt"]?.[0] !== queueId) continue;
        const queue = resources[queueId];
        statusChangeConsumers.push({
          functionArn: names.get(mapping.Properties.FunctionName.Ref) as string,
          queueArn: names.get(queueId) as string,
          maxReceiveCount: Number(queue?.Properties?.RedrivePolicy?.maxReceiveCount ?? 5),
          pattern: resolve(rule.Properties.EventPattern) as Record<string, unknown>,
        });
      }
    }
  }

  const schedules: LocalSchedule[] = ofType("AWS::Scheduler::Schedule").map(([, schedule]) => {
    const props = schedule.Properties;
    const input = String(props.Target.Input);
    return {
      name: String((JSON.parse(input) as { scheduleName?: string }).scheduleName ?? props.Name),
      expression: String(props.ScheduleExpression),
      timezone: String(props.ScheduleExpressionTimezone ?? "UTC"),
      enabled: props.State !== "DISABLED",
      functionArn: String(resolve(props.Target.Arn)),
      input,
    };
  });

  const definition = JSON.parse(resolve(stateMachine.Properties.DefinitionString) as string);
  return {
    tableName: names.get(tableId) as string,
    bucketName: names.get(bucketId) as string,
    stateMachineArn: names.get(stateMachineId) as string,
    tokenSecretArn: names.get(secretId) as string,
    definition,
    functions,
    routes,
    statusChangeConsumers,
    schedules,
    queues,
    scheduledRules,
  };
}

/** `rate(5 minutes)` -> 300000; undefined for anything else. */
function rateMs(expression: string): number | undefined {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!match) return undefined;
  const unit = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[
    (match[2] ?? "").replace(/s$/, "") as "minute" | "hour" | "day"
  ];
  return Number(match[1]) * unit;
}

/** Resolves Ref, Fn::GetAtt (Arn), Fn::Join, Fn::Select and Fn::Split against local names. */
export function resolveIntrinsics(
  value: unknown,
  names: ReadonlyMap<string, string>,
  refs: ReadonlyMap<string, string> = new Map(),
): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, names, refs));
  if (!value || typeof value !== "object") return value;
  const object = value as Record<string, any>;
  const keys = Object.keys(object);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = object[key];
    switch (key) {
      case "Ref":
        return pseudo(arg) ?? refs.get(arg) ?? names.get(arg) ?? fail(`Ref to ${arg}`);
      case "Fn::GetAtt":
        if (arg[1] === "Arn") return names.get(arg[0]) ?? fail(`GetAtt ${arg[0]}.Arn`);
        if (arg[1] === "RootResourceId") return "/";
        return fail(`GetAtt ${arg.join(".")}`);
      case "Fn::Join":
        return (resolveIntrinsics(arg[1], names, refs) as unknown[]).join(arg[0]);
      case "Fn::Select":
        return (resolveIntrinsics(arg[1], names, refs) as unknown[])[arg[0]];
      case "Fn::Split":
        return String(resolveIntrinsics(arg[1], names, refs)).split(arg[0]);
    }
  }
  return Object.fromEntries(
    Object.entries(object).map(([k, v]) => [k, resolveIntrinsics(v, names, refs)]),
  );
}

function pseudo(name: string): string | undefined {
  return {
    "AWS::Partition": "aws",
    "AWS::Region": LOCAL_REGION,
    "AWS::AccountId": LOCAL_ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
  }[name];
}

function lambdaArnIn(uri: unknown): string {
  const match = String(uri).match(/functions\/(arn:aws:lambda:[^/]+)\/invocations/);
  if (!match?.[1]) throw new Error(`not a Lambda integration URI: ${String(uri)}`);
  return match[1];
}

function fail(what: string): never {
  throw new Error(`the local stack cannot resolve ${what} in the template`);
}
