import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, posix, relative, resolve } from "node:path";
import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";

export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_REGION = "us-east-1";

export interface CloudFormationResource {
  readonly Type: string;
  readonly Properties?: any;
  readonly Metadata?: any;
}

export interface CloudFormationTemplate {
  readonly Resources: Record<string, CloudFormationResource>;
}

/** Where a function's code is: the module CDK built and the export Lambda would call, or why it cannot run here. */
export type LocalCode =
  | { readonly file: string; readonly exportPath: readonly string[] }
  | { readonly unavailable: string };

/** An IAM role of the template and the policies that give it permissions, resolved. */
export interface LocalRole {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  readonly policies: readonly {
    readonly name: string;
    readonly document: Record<string, unknown>;
  }[];
  /** AWS managed policies it has, which the local stack does not know the contents of. */
  readonly awsManagedPolicies: readonly string[];
}

export interface LocalFunction {
  readonly logicalId: string;
  /** Its name (the logical id), which a `Ref` to it resolves to. */
  readonly name: string;
  readonly arn: string;
  readonly code: LocalCode;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly environment: Record<string, string>;
  /** Its execution role, when the template gives it one. */
  readonly role?: LocalRole;
}

export interface LocalRoute {
  /** `GET`, `POST`, ... or `ANY`. */
  readonly method: string;
  /** API Gateway resource path, e.g. `/batches/{batchId}/cancel`. */
  readonly path: string;
  readonly functionArn: string;
  readonly authorizerFunctionArn?: string;
}

export interface LocalTable {
  readonly logicalId: string;
  readonly name: string;
  /** CreateTable's input, from the template's key schema, indexes and billing. */
  readonly definition: CreateTableCommandInput;
  readonly timeToLiveAttribute?: string;
}

export interface LocalBucket {
  readonly logicalId: string;
  readonly name: string;
}

export interface LocalSecret {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** SecretString, when the template sets one. */
  readonly value?: string;
  /** GenerateSecretString, when the template asks for a generated value. */
  readonly generate?: GenerateSecretString;
}

/** CloudFormation's GenerateSecretString settings. */
export interface GenerateSecretString {
  readonly PasswordLength?: number;
  readonly ExcludeCharacters?: string;
  readonly ExcludeLowercase?: boolean;
  readonly ExcludeUppercase?: boolean;
  readonly ExcludeNumbers?: boolean;
  readonly ExcludePunctuation?: boolean;
  readonly IncludeSpace?: boolean;
  readonly RequireEachIncludedType?: boolean;
  readonly SecretStringTemplate?: string;
  readonly GenerateStringKey?: string;
}

export interface LocalStateMachine {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** The ASL definition, with every reference resolved to its local value. */
  readonly definition: Record<string, any>;
  /** The role it runs its tasks with. */
  readonly role?: LocalRole;
}

export interface LocalQueue {
  readonly logicalId: string;
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  /** Receives before a message goes to the dead letters (the queue's redrive policy). @default 5 */
  readonly maxReceiveCount: number;
  /** The functions an event source mapping feeds from this queue. */
  readonly consumerArns: readonly string[];
}

/** An EventBridge rule with an event pattern, and its SQS and Lambda targets. */
export interface LocalEventRule {
  readonly arn: string;
  /** The rule's pattern, resolved. */
  readonly pattern: Record<string, unknown>;
  readonly queueArns: readonly string[];
  readonly functionArns: readonly string[];
}

export interface LocalScheduledRule {
  readonly arn: string;
  readonly expression: string;
  /** The rate in milliseconds (`rate(N unit)`); cron rules are not run locally. */
  readonly everyMs?: number;
  readonly functionArns: readonly string[];
}

/** An EventBridge Scheduler schedule with a Lambda target. */
export interface LocalSchedule {
  /** Its name as deployed (`Name`), or its logical id when it has none. */
  readonly name: string;
  readonly arn: string;
  readonly expression: string;
  readonly timezone: string;
  readonly enabled: boolean;
  readonly functionArn: string;
  /** The role the schedule invokes its target with. */
  readonly role?: LocalRole;
  /** The target input, with `<aws.scheduler.*>` placeholders still in it. */
  readonly input: string;
}

/** Everything the local stack runs, read from the synthesized CloudFormation template by what each resource is. */
export interface LocalAppModel {
  readonly tables: readonly LocalTable[];
  readonly buckets: readonly LocalBucket[];
  readonly secrets: readonly LocalSecret[];
  /** The secrets the API's authorizers are given (in their environment): they hold the API token. */
  readonly apiTokenSecretArns: readonly string[];
  readonly stateMachine: LocalStateMachine;
  /** Every function, by ARN. */
  readonly functions: ReadonlyMap<string, LocalFunction>;
  readonly routes: readonly LocalRoute[];
  /** The API's stage name, also served as a path prefix. */
  readonly stage?: string;
  readonly queues: readonly LocalQueue[];
  readonly eventRules: readonly LocalEventRule[];
  /** EventBridge rules on a rate, with the functions they invoke. */
  readonly scheduledRules: readonly LocalScheduledRule[];
  readonly schedules: readonly LocalSchedule[];
  /** Every IAM role, by ARN. */
  readonly roles: ReadonlyMap<string, LocalRole>;
}

export interface ReadOptions {
  /** The cloud assembly folder the template was synthesized into: asset paths are relative to it. */
  readonly outdir?: string;
  /** Base URL of the local SQS service: queue URLs point at it. */
  readonly sqsEndpoint?: string;
  readonly stackName?: string;
}

/** A resource's local identity: what `Ref` resolves to and its `Fn::GetAtt` attributes. */
interface Physical {
  readonly ref: string;
  readonly attributes: Readonly<Record<string, string>>;
}

const arnOf = (service: string, resource: string, region = LOCAL_REGION) =>
  `arn:aws:${service}:${region}:${LOCAL_ACCOUNT}:${resource}`;

/**
 * Reads the local model from a template, finding every resource by its type: each table and bucket
 * gets a local name derived from its logical id, each function, queue, secret and state machine a
 * local ARN, and every reference in environments, definitions and targets resolves to them.
 */
export function readAppModel(
  template: CloudFormationTemplate,
  options: ReadOptions = {},
): LocalAppModel {
  const resources = template.Resources;
  const ofType = (...types: string[]) =>
    Object.entries(resources).filter(([, r]) => types.includes(r.Type));

  const physical = new Map<string, Physical>();
  const taken = new Set<string>();
  const tableIds = ofType("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable");
  for (const [id] of tableIds) {
    const name = uniqueName(tableName(id), taken);
    const arn = arnOf("dynamodb", `table/${name}`);
    physical.set(id, { ref: name, attributes: { Arn: arn, StreamArn: `${arn}/stream/local` } });
  }
  for (const [id] of ofType("AWS::S3::Bucket")) {
    const name = uniqueName(bucketName(id), taken);
    physical.set(id, {
      ref: name,
      attributes: {
        Arn: `arn:aws:s3:::${name}`,
        DomainName: `${name}.s3.amazonaws.com`,
        RegionalDomainName: `${name}.s3.${LOCAL_REGION}.amazonaws.com`,
      },
    });
  }
  for (const [id] of ofType("AWS::Lambda::Function"))
    physical.set(id, { ref: id, attributes: { Arn: arnOf("lambda", `function:${id}`) } });
  for (const [id] of ofType("AWS::SQS::Queue")) {
    const url = `${options.sqsEndpoint ?? "http://127.0.0.1"}/${LOCAL_ACCOUNT}/${id}`;
    physical.set(id, {
      ref: url,
      attributes: { Arn: arnOf("sqs", id), QueueName: id, QueueUrl: url },
    });
  }
  for (const [id, secret] of ofType("AWS::SecretsManager::Secret")) {
    const name = typeof secret.Properties?.Name === "string" ? secret.Properties.Name : id;
    const arn = arnOf("secretsmanager", `secret:${name}`);
    physical.set(id, { ref: arn, attributes: { Id: arn } });
  }
  for (const [id] of ofType("AWS::StepFunctions::StateMachine")) {
    const arn = arnOf("states", `stateMachine:${id}`);
    physical.set(id, { ref: arn, attributes: { Arn: arn, Name: id } });
  }
  for (const [id] of ofType("AWS::Events::Rule"))
    physical.set(id, { ref: id, attributes: { Arn: arnOf("events", `rule/${id}`) } });
  for (const [id] of ofType("AWS::IAM::ManagedPolicy")) {
    const arn = `arn:aws:iam::${LOCAL_ACCOUNT}:policy/${id}`;
    physical.set(id, { ref: arn, attributes: { PolicyArn: arn } });
  }
  for (const [id, resource] of Object.entries(resources)) {
    if (physical.has(id)) continue;
    // Anything else: its logical id, and an ARN of its service (neither is served locally).
    const service = resource.Type.split("::")[1]?.toLowerCase() ?? "unknown";
    physical.set(id, {
      ref: id,
      attributes: {
        Arn:
          service === "iam"
            ? `arn:aws:iam::${LOCAL_ACCOUNT}:${resource.Type.split("::")[2]?.toLowerCase()}/${id}`
            : arnOf(service, id),
      },
    });
  }
  const pseudo = pseudoParameters(options.stackName ?? "local");
  const resolve = (value: unknown) => resolveIntrinsics(value, physical, pseudo);
  const refOf = (id: string) => physical.get(id)?.ref as string;
  const attribute = (id: string, name: string) => physical.get(id)?.attributes[name] as string;

  const tables: LocalTable[] = tableIds.map(([id, table]) => {
    const ttl = table.Properties?.TimeToLiveSpecification;
    return {
      logicalId: id,
      name: refOf(id),
      definition: tableDefinition(refOf(id), resolve(table.Properties ?? {}) as any),
      ...(ttl?.Enabled !== false && ttl?.AttributeName
        ? { timeToLiveAttribute: String(ttl.AttributeName) }
        : {}),
    };
  });
  const buckets: LocalBucket[] = ofType("AWS::S3::Bucket").map(([id]) => ({
    logicalId: id,
    name: refOf(id),
  }));
  const secrets: LocalSecret[] = ofType("AWS::SecretsManager::Secret").map(([id, secret]) => {
    const props = secret.Properties ?? {};
    const arn = refOf(id);
    return {
      logicalId: id,
      name: arn.slice(arn.indexOf(":secret:") + ":secret:".length),
      arn,
      ...(props.SecretString !== undefined ? { value: String(resolve(props.SecretString)) } : {}),
      ...(props.GenerateSecretString
        ? { generate: resolve(props.GenerateSecretString) as GenerateSecretString }
        : {}),
    };
  });

  const roles = readRoles(resources, physical, resolve);
  const roleOf = (roleArn: unknown): LocalRole | undefined =>
    roleArn === undefined ? undefined : roles.get(String(resolve(roleArn)));

  const machines = ofType("AWS::StepFunctions::StateMachine");
  if (machines.length !== 1)
    throw new Error(
      machines.length === 0
        ? "the template holds no AWS::StepFunctions::StateMachine: the local stack runs one"
        : `the template holds ${machines.length} state machines (${machines.map(([id]) => id).join(", ")}): the local stack runs one`,
    );
  const [machineId, machine] = machines[0] as [string, CloudFormationResource];
  const definitionText = resolve(
    machine.Properties?.DefinitionString ?? JSON.stringify(machine.Properties?.Definition ?? {}),
  );
  const stateMachine: LocalStateMachine = {
    logicalId: machineId,
    name: attribute(machineId, "Name"),
    arn: refOf(machineId),
    definition: JSON.parse(String(definitionText)),
    ...optional("role", roleOf(machine.Properties?.RoleArn)),
  };

  const functions = new Map<string, LocalFunction>();
  for (const [id, fn] of ofType("AWS::Lambda::Function")) {
    const arn = attribute(id, "Arn");
    functions.set(arn, {
      logicalId: id,
      name: id,
      arn,
      code: codeOf(fn, options.outdir),
      timeoutSeconds: Number(fn.Properties?.Timeout ?? 3),
      memoryMb: Number(fn.Properties?.MemorySize ?? 128),
      environment: resolve(fn.Properties?.Environment?.Variables ?? {}) as Record<string, string>,
      ...optional("role", roleOf(fn.Properties?.Role)),
    });
  }
  // A function named by its name or ARN (a Ref gives the name, GetAtt Arn the ARN).
  const functionArn = (value: unknown): string | undefined => {
    const text = String(value);
    if (functions.has(text)) return text;
    return [...functions.values()].find((fn) => fn.name === text)?.arn;
  };

  const routes: LocalRoute[] = [];
  const authorizerArns = new Set<string>();
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
    const target = lambdaArnIn(resolve(props.Integration.Uri));
    const authorizer = props.AuthorizerId?.Ref ? resources[props.AuthorizerId.Ref] : undefined;
    const authorizerArn = authorizer
      ? lambdaArnIn(resolve(authorizer.Properties.AuthorizerUri))
      : undefined;
    if (authorizerArn) authorizerArns.add(authorizerArn);
    routes.push({
      method: props.HttpMethod,
      path: pathOf(props.ResourceId) || "/",
      functionArn: target,
      ...(authorizerArn ? { authorizerFunctionArn: authorizerArn } : {}),
    });
  }
  const stage = [
    ...ofType("AWS::ApiGateway::Stage").map(([, s]) => s.Properties?.StageName),
    ...ofType("AWS::ApiGateway::Deployment").map(([, d]) => d.Properties?.StageName),
  ].find((name): name is string => typeof name === "string");
  const authorizerValues = new Set(
    [...authorizerArns].flatMap((arn) => Object.values(functions.get(arn)?.environment ?? {})),
  );
  const apiTokenSecretArns = secrets
    .filter((s) => authorizerValues.has(s.arn) || authorizerValues.has(s.name))
    .map((s) => s.arn);

  const queues: LocalQueue[] = ofType("AWS::SQS::Queue").map(([id, queue]) => {
    const arn = attribute(id, "Arn");
    const consumerArns = ofType("AWS::Lambda::EventSourceMapping")
      .filter(([, mapping]) => resolve(mapping.Properties?.EventSourceArn) === arn)
      .map(([, mapping]) => functionArn(resolve(mapping.Properties.FunctionName)))
      .filter((fn): fn is string => fn !== undefined);
    const redrive = resolve(queue.Properties?.RedrivePolicy) as
      | { maxReceiveCount?: number }
      | undefined;
    return {
      logicalId: id,
      name: id,
      url: refOf(id),
      arn,
      maxReceiveCount: Number(redrive?.maxReceiveCount ?? 5),
      consumerArns,
    };
  });

  const eventRules: LocalEventRule[] = [];
  const scheduledRules: LocalScheduledRule[] = [];
  for (const [id, rule] of ofType("AWS::Events::Rule")) {
    if (rule.Properties?.State === "DISABLED") continue;
    const targets = (rule.Properties?.Targets ?? []).map((t: { Arn?: unknown }) =>
      String(resolve(t.Arn)),
    ) as string[];
    const functionArns = targets.flatMap((arn) => functionArn(arn) ?? []);
    if (rule.Properties?.ScheduleExpression) {
      const expression = String(rule.Properties.ScheduleExpression);
      const everyMs = rateMs(expression);
      scheduledRules.push({
        arn: attribute(id, "Arn"),
        expression,
        ...(everyMs ? { everyMs } : {}),
        functionArns,
      });
    }
    if (rule.Properties?.EventPattern)
      eventRules.push({
        arn: attribute(id, "Arn"),
        pattern: resolve(rule.Properties.EventPattern) as Record<string, unknown>,
        queueArns: targets.filter((arn) => queues.some((q) => q.arn === arn)),
        functionArns,
      });
  }

  const schedules: LocalSchedule[] = ofType("AWS::Scheduler::Schedule").flatMap(
    ([id, schedule]) => {
      const props = schedule.Properties;
      const target = functionArn(resolve(props.Target?.Arn));
      if (!target) return []; // not a Lambda target: not run locally
      const name = typeof props.Name === "string" ? props.Name : id;
      const group = typeof props.GroupName === "string" ? props.GroupName : "default";
      return [
        {
          name,
          arn: arnOf("scheduler", `schedule/${group}/${name}`),
          expression: String(props.ScheduleExpression),
          timezone: String(props.ScheduleExpressionTimezone ?? "UTC"),
          enabled: props.State !== "DISABLED",
          functionArn: target,
          ...optional("role", roleOf(props.Target?.RoleArn)),
          input: props.Target.Input === undefined ? "{}" : String(resolve(props.Target.Input)),
        },
      ];
    },
  );

  return {
    tables,
    buckets,
    secrets,
    apiTokenSecretArns,
    stateMachine,
    functions,
    routes,
    ...(stage ? { stage } : {}),
    queues,
    eventRules,
    scheduledRules,
    schedules,
    roles,
  };
}

/** `{ [key]: value }`, or nothing when the value is undefined (optional properties stay absent). */
const optional = <K extends string, V>(key: K, value: V | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

/**
 * Every AWS::IAM::Role with the policies that give it permissions: its inline `Policies`, the
 * AWS::IAM::Policy and AWS::IAM::ManagedPolicy resources that name it in `Roles`, and the managed
 * policies of the template its `ManagedPolicyArns` names. AWS managed policies are listed apart:
 * their contents are not in the template.
 */
function readRoles(
  resources: Record<string, CloudFormationResource>,
  physical: ReadonlyMap<string, Physical>,
  resolve: (value: unknown) => unknown,
): Map<string, LocalRole> {
  type Document = Record<string, unknown>;
  const attached = new Map<string, { name: string; document: Document }[]>();
  const managed = new Map<string, { name: string; document: Document }>();
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== "AWS::IAM::Policy" && resource.Type !== "AWS::IAM::ManagedPolicy")
      continue;
    const policy = {
      name: String(resource.Properties?.PolicyName ?? resource.Properties?.ManagedPolicyName ?? id),
      document: resolve(resource.Properties?.PolicyDocument ?? {}) as Document,
    };
    if (resource.Type === "AWS::IAM::ManagedPolicy")
      managed.set(physical.get(id)?.ref ?? id, policy);
    for (const roleName of (resolve(resource.Properties?.Roles ?? []) as unknown[]).map(String)) {
      const list = attached.get(roleName) ?? [];
      list.push(policy);
      attached.set(roleName, list);
    }
  }
  const roles = new Map<string, LocalRole>();
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== "AWS::IAM::Role") continue;
    const name = physical.get(id)?.ref ?? id;
    const arn = physical.get(id)?.attributes.Arn ?? `arn:aws:iam::${LOCAL_ACCOUNT}:role/${id}`;
    const inline = ((resolve(resource.Properties?.Policies ?? []) as any[]) ?? []).map((p) => ({
      name: String(p.PolicyName),
      document: p.PolicyDocument as Document,
    }));
    const managedArns = (resolve(resource.Properties?.ManagedPolicyArns ?? []) as unknown[]).map(
      String,
    );
    const ofTemplate = managedArns.flatMap((policyArn) => managed.get(policyArn) ?? []);
    // A managed policy that names the role in its Roles and in the role's ManagedPolicyArns counts once.
    const policies = [...new Set([...inline, ...(attached.get(name) ?? []), ...ofTemplate])];
    roles.set(arn, {
      logicalId: id,
      name,
      arn,
      policies,
      awsManagedPolicies: managedArns.filter((policyArn) => !managed.has(policyArn)),
    });
  }
  return roles;
}

/**
 * Where a function's code is: the asset folder CDK staged for it in the cloud assembly (its
 * `aws:asset:path` metadata) and the module and export its `Handler` names, as Lambda's Node.js
 * runtime reads it (`index.handler`: `index.js`, `.mjs` or `.cjs`, export `handler`).
 */
function codeOf(fn: CloudFormationResource, outdir: string | undefined): LocalCode {
  const props = fn.Properties ?? {};
  if (props.Code?.ZipFile !== undefined)
    return { unavailable: "its code is inline (ZipFile), which the local stack does not run" };
  if (props.PackageType === "Image" || props.Code?.ImageUri !== undefined)
    return { unavailable: "it is a container image, which the local stack does not run" };
  if (typeof props.Runtime === "string" && !props.Runtime.startsWith("nodejs"))
    return { unavailable: `its runtime is ${props.Runtime}; the local stack runs Node.js only` };
  const assetPath = fn.Metadata?.["aws:asset:path"];
  if (typeof assetPath !== "string" || !outdir)
    return { unavailable: "its code is not an asset of the synthesized cloud assembly" };
  const directory = resolve(outdir, assetPath);
  const inside = relative(outdir, directory);
  if (inside.startsWith("..") || isAbsolute(inside))
    return { unavailable: `its code was not bundled into the cloud assembly (${assetPath})` };
  if (typeof props.Handler !== "string") return { unavailable: "it has no Handler" };
  // As Lambda's Node.js runtime: the module is up to the first dot of the last path segment.
  const base = posix.basename(props.Handler);
  const dot = base.indexOf(".");
  if (dot <= 0 || dot === base.length - 1)
    return { unavailable: `its Handler '${props.Handler}' is not <module>.<export>` };
  const module = join(dirname(props.Handler), base.slice(0, dot));
  const file = [".js", ".mjs", ".cjs"]
    .map((extension) => join(directory, `${module}${extension}`))
    .find((candidate) => existsSync(candidate));
  if (!file)
    return {
      unavailable: `its asset ${assetPath} holds no ${module}.js, .mjs or .cjs for its Handler '${props.Handler}'`,
    };
  return { file, exportPath: base.slice(dot + 1).split(".") };
}

/** CreateTable's input from an AWS::DynamoDB::Table's (or GlobalTable's) properties. */
function tableDefinition(name: string, props: Record<string, any>): CreateTableCommandInput {
  const throughput = (value: any) =>
    value
      ? {
          ReadCapacityUnits: Number(value.ReadCapacityUnits),
          WriteCapacityUnits: Number(value.WriteCapacityUnits),
        }
      : undefined;
  const provisioned = props.BillingMode !== "PAY_PER_REQUEST" && props.ProvisionedThroughput;
  // GlobalTable sets write capacity apart; the local table takes a fixed one when it is provisioned.
  const indexThroughput = (index: any) =>
    provisioned
      ? (throughput(index.ProvisionedThroughput) ?? { ReadCapacityUnits: 5, WriteCapacityUnits: 5 })
      : undefined;
  const index = (i: any) => ({
    IndexName: i.IndexName,
    KeySchema: i.KeySchema,
    Projection: i.Projection ?? { ProjectionType: "ALL" },
  });
  return {
    TableName: name,
    AttributeDefinitions: props.AttributeDefinitions,
    KeySchema: props.KeySchema,
    ...(provisioned
      ? {
          BillingMode: "PROVISIONED",
          ProvisionedThroughput: throughput(props.ProvisionedThroughput),
        }
      : { BillingMode: "PAY_PER_REQUEST" }),
    ...(props.GlobalSecondaryIndexes?.length
      ? {
          GlobalSecondaryIndexes: props.GlobalSecondaryIndexes.map((i: any) => ({
            ...index(i),
            ...(indexThroughput(i) ? { ProvisionedThroughput: indexThroughput(i) } : {}),
          })),
        }
      : {}),
    ...(props.LocalSecondaryIndexes?.length
      ? { LocalSecondaryIndexes: props.LocalSecondaryIndexes.map(index) }
      : {}),
  };
}

/** A table name from a logical id: lower case, 3 to 255 of `a-z 0-9 _ . -`. */
function tableName(logicalId: string): string {
  const name = logicalId.toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
  return limited(name.padEnd(3, "0"), 255);
}

/** A bucket name from a logical id: lower case, 3 to 63 of `a-z 0-9 -`, starting and ending with a letter or digit. */
function bucketName(logicalId: string): string {
  const name = logicalId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/^-+|-+$/g, "");
  return limited((name || "bucket").padEnd(3, "0"), 63);
}

/** `name`, or when longer than `max`, its start and a hash of it (so two long names stay apart). */
function limited(name: string, max: number): string {
  if (name.length <= max) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${name.slice(0, max - 9)}-${hash}`;
}

/** `name`, or `name-2`, `name-3`... when it is taken (logical ids that differ only by case). */
function uniqueName(name: string, taken: Set<string>): string {
  let unique = name;
  for (let n = 2; taken.has(unique); n++) unique = `${name.slice(0, 50)}-${n}`;
  taken.add(unique);
  return unique;
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

function pseudoParameters(stackName: string): Record<string, string> {
  return {
    "AWS::Partition": "aws",
    "AWS::Region": LOCAL_REGION,
    "AWS::AccountId": LOCAL_ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": stackName,
    "AWS::StackId": arnOf("cloudformation", `stack/${stackName}/local`),
  };
}

const NO_VALUE = Symbol("AWS::NoValue");

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Select, Fn::Split and Fn::Sub against local values. */
function resolveIntrinsics(
  value: unknown,
  physical: ReadonlyMap<string, Physical>,
  pseudo: Readonly<Record<string, string>>,
): unknown {
  const again = (v: unknown) => resolveIntrinsics(v, physical, pseudo);
  const ref = (name: string) => pseudo[name] ?? physical.get(name)?.ref ?? fail(`Ref to ${name}`);
  const getAtt = (id: string, name: string) => {
    if (name === "RootResourceId") return "/";
    return physical.get(id)?.attributes[name] ?? fail(`Fn::GetAtt ${id}.${name}`);
  };
  if (Array.isArray(value)) return value.map(again).filter((v) => v !== NO_VALUE);
  if (!value || typeof value !== "object") return value;
  const object = value as Record<string, any>;
  const keys = Object.keys(object);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = object[key];
    switch (key) {
      case "Ref":
        return arg === "AWS::NoValue" ? NO_VALUE : ref(arg);
      case "Fn::GetAtt": {
        const [id, name] = typeof arg === "string" ? arg.split(/\.(.*)/) : arg;
        return getAtt(id, name);
      }
      case "Fn::Join":
        return (again(arg[1]) as unknown[]).join(arg[0]);
      case "Fn::Select":
        return (again(arg[1]) as unknown[])[Number(again(arg[0]))];
      case "Fn::Split":
        return String(again(arg[1])).split(arg[0]);
      case "Fn::Sub": {
        const [text, variables] = typeof arg === "string" ? [arg, {}] : arg;
        const values = again(variables) as Record<string, unknown>;
        return String(text)
          .replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
            if (name in values) return String(values[name]);
            const dot = name.indexOf(".");
            return dot === -1 ? ref(name) : getAtt(name.slice(0, dot), name.slice(dot + 1));
          })
          .replace(/\$\{!/g, "${");
      }
    }
  }
  return Object.fromEntries(
    Object.entries(object)
      .map(([k, v]) => [k, again(v)] as const)
      .filter(([, v]) => v !== NO_VALUE),
  );
}

function lambdaArnIn(uri: unknown): string {
  const match = String(uri).match(/functions\/(arn:aws:lambda:[^/]+)\/invocations/);
  if (!match?.[1]) throw new Error(`not a Lambda integration URI: ${String(uri)}`);
  return match[1];
}

function fail(what: string): never {
  throw new Error(`the local stack cannot resolve ${what} in the template`);
}
