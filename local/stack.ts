import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { App, Stack } from "aws-cdk-lib";
import { tokenFromHeaders, tokensMatch } from "../functions/core/token.ts";
import { StepbatchStack, type StepbatchStackProps } from "../infra/stepbatch-stack.ts";
import { type LocalRoutes, startApiGateway } from "./api-gateway.ts";
import { AwsServiceError, type OperationInput, startAwsJsonService } from "./aws-json-service.ts";
import { createBuildDir, type Synthesized, synthesize } from "./build.ts";
import { createConsole } from "./console.ts";
import {
  dynamoClient,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  provisionBucket,
  provisionTable,
  type RequestObserver,
  type RunningService,
  s3Client,
  startDynamo,
  startS3,
} from "./emulators.ts";
import { holdPrivateUmask, makePrivate, PRIVATE_DIR_MODE, writeFileAtomic } from "./files.ts";
import { AccessDenied, type Authorization, LocalIam, type LocalPrincipal } from "./iam.ts";
import {
  dynamodbAuthorizations,
  dynamodbDenied,
  s3Authorizations,
  s3Denied,
  startIamGate,
  withS3rverKey,
} from "./iam-gate.ts";
import { type FunctionLog, LambdaInvocationError, LocalLambdaRuntime } from "./lambda-runtime.ts";
import { startScheduledRules } from "./scheduled-rules.ts";
import { secretValues } from "./secrets.ts";
import { StatusEventDelivery } from "./status-events.ts";
import { type LambdaInvoker, LocalStepFunctions } from "./stepfunctions.ts";
import {
  LOCAL_ACCOUNT,
  type LocalFunction,
  type LocalQueue,
  type LocalRole,
  type LocalSchedule,
  readAppModel,
} from "./template.ts";

/** One entry of a PutEvents request, as the SDK sends it. */
interface PutEventsEntry {
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly Resources?: string[];
  readonly EventBusName?: string;
}

export const PROJECT_ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..");

export interface LocalStackOptions {
  /** API port; 0 picks a free one. @default 3000 */
  readonly port?: number;
  /** The API token. @default the one kept in `<dataDir>/token`, generated once */
  readonly token?: string;
  /** Where data is kept across restarts. @default undefined: everything in memory */
  readonly dataDir?: string;
  /** Powertools log level of the handlers. @default "WARN" */
  readonly logLevel?: string;
  readonly log?: (message: string) => void;
  /**
   * Receives what the functions write (their CloudWatch logs), a line at a time.
   * @default written to this process's standard output and error
   */
  readonly functionLog?: FunctionLog;
  /** Where a request that failed at the Lambda level is reported (one line). @default standard error */
  readonly logError?: (line: string) => void;
  /**
   * The project the stack belongs to: the synthesized app and its bundles go to
   * `<projectRoot>/.stepbatch/build/synth/`, so the bundles' external imports (`@aws-sdk/*`)
   * resolve from its node_modules. @default this repository's root
   */
  readonly projectRoot?: string;
  /**
   * Builds the stack to run, inside the App the local stack creates (and synthesizes, bundling
   * included). @default `new StepbatchStack(app, "Stepbatch", stackProps)`
   */
  readonly stack?: (app: App) => Stack;
  /**
   * Synthesizes the app to run into `outdir` instead (a project's own CDK app, run as `cdk synth`
   * runs it). @default the stack `stack` builds, synthesized in this process
   */
  readonly synthesize?: (outdir: string) => Synthesized;
  /** Props of the default StepbatchStack (e.g. another pipeline). @default the deployed defaults */
  readonly stackProps?: StepbatchStackProps;
  /**
   * Variables every function gets beside its own (e.g. `POWERTOOLS_LOGGER_LOG_EVENT`): a function
   * sees only its environment from the template, never this process's. @default none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Check every AWS call a function makes against its role's policies from the template, and the
   * state machine's and schedules' calls to Lambda against theirs, refusing what AWS would refuse
   * with AccessDenied. @default true
   */
  readonly iam?: boolean;
  /** The pipeline's name, shown in the console. @default none */
  readonly pipelineName?: string;
  /** Sees every request DynamoDB and S3 receive (the benchmark counts them). */
  readonly observe?: { dynamodb?: RequestObserver; s3?: RequestObserver };
}

export interface LocalStack {
  readonly apiUrl: string;
  readonly token: string;
  readonly endpoints: Readonly<
    Record<"dynamodb" | "s3" | "stepfunctions" | "secretsmanager" | "sqs" | "eventbridge", string>
  >;
  readonly stepFunctions: LocalStepFunctions;
  readonly statusEvents: StatusEventDelivery;
  readonly stateMachineArn: string;
  /** The state machine's definition (ASL), as synthesized. */
  readonly stateMachineDefinition: Readonly<Record<string, unknown>>;
  /** Invokes a function of the app as the state machine does (its role checked): for a second, local-only state machine. */
  readonly invokeAsStateMachine: LambdaInvoker;
  /** The app's functions, by ARN. */
  readonly functions: ReadonlyMap<string, LocalFunction>;
  /** Lambda usage so far (invocations, GB-seconds). */
  readonly lambdaUsage: LocalLambdaRuntime["usage"];
  /** Executions that were running at the last stop and were failed at this start. */
  readonly recovered: number;
  /** How long synthesizing the app, bundling included, took at start-up. */
  readonly synthMs: number;
  stop(): Promise<void>;
}

/**
 * The embedded local stack: the app synthesized as `cdk synth` does (functions bundled), and every
 * resource of its template found by what it is: DynamoDB tables on dynalite, S3 buckets on s3rver,
 * the state machine run by a local Step Functions service, secrets served by a local Secrets
 * Manager (the authorizer's holds the API token), SQS queues and EventBridge rules delivering to
 * their functions, scheduled rules and schedules, and the REST API's Lambda proxy routes, all in
 * this process. Functions run from their bundles and reach every service through
 * AWS_ENDPOINT_URL_<SERVICE> only.
 *
 * Bundles are imported by Node itself: a test runner that transforms what it imports (vitest)
 * must leave `.stepbatch/build/` to Node (vitest: `server.deps.external`).
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const dataDir = options.dataDir;
  // Job inputs, results and the token are nobody else's business: the data folder is private,
  // what was there before included, and so is everything written while the stack runs.
  const releaseUmask = dataDir ? holdPrivateUmask() : () => undefined;
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    makePrivate(dataDir);
  }
  const started: RunningService[] = [];
  let buildDir: string | undefined;
  const removeBuild = () => {
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  };
  try {
    // SQS first: the template's queue URLs must name it.
    let sendToQueue: (queueArn: string, body: string) => boolean = () => false;
    let queues: readonly LocalQueue[] = [];
    // IAM: each function signs with credentials of its own, and each of its calls to a service is
    // checked against its role's policies (`checked` for the services answered here).
    const iam = new LocalIam(options.iam ?? true);
    const checked =
      (authorizationsOf: (operation: string, input: OperationInput) => Authorization[]) =>
      async (
        request: import("node:http").IncomingMessage,
        operation: string,
        input: OperationInput,
      ) => {
        try {
          await iam.authorize(
            iam.principalOf(request.headers, request.url),
            authorizationsOf(operation, input),
          );
        } catch (error) {
          if (error instanceof AccessDenied)
            throw new AwsServiceError("AccessDeniedException", error.message);
          throw error;
        }
      };
    const sqsService = await startAwsJsonService({
      name: "SQS",
      targetPrefix: "AmazonSQS",
      // A queue that does not exist is the service's to answer (NonExistentQueue).
      authorize: checked((operation, input) => {
        const queue = queues.find((q) => q.url === input.QueueUrl);
        return queue ? [{ action: `sqs:${operation}`, resource: queue.arn }] : [];
      }),
      operations: {
        SendMessage: ({ QueueUrl, MessageBody }: { QueueUrl?: string; MessageBody?: string }) => {
          const queue = queues.find((q) => q.url === QueueUrl);
          if (!queue || !MessageBody || !sendToQueue(queue.arn, MessageBody))
            throw new AwsServiceError(
              "AWS.SimpleQueueService.NonExistentQueue",
              `The specified queue does not exist: ${QueueUrl}`,
            );
          return {
            MessageId: randomUUID(),
            MD5OfMessageBody: createHash("md5").update(MessageBody).digest("hex"),
          };
        },
      },
    });
    started.push(sqsService);

    const synthStarted = performance.now();
    buildDir = createBuildDir(options.projectRoot ?? PROJECT_ROOT);
    const buildStack =
      options.stack ?? ((app: App) => new StepbatchStack(app, "Stepbatch", options.stackProps));
    const synthesized = options.synthesize
      ? options.synthesize(buildDir)
      : synthesize(buildDir, buildStack);
    const synthMs = Math.round(performance.now() - synthStarted);
    const model = readAppModel(synthesized.template, {
      outdir: synthesized.outdir,
      sqsEndpoint: sqsService.endpoint,
      stackName: synthesized.stackName,
    });
    log(
      synthesized.bundledNow
        ? `synthesized ${synthesized.stackName} and bundled its ${model.functions.size} functions in ${(synthMs / 1000).toFixed(1)} s`
        : `read ${synthesized.stackName} and its ${model.functions.size} bundled functions from ${synthesized.outdir}`,
    );
    queues = model.queues;
    if (options.iam ?? true) warnOfUnknownPolicies(model.functions, log);
    const token = options.token ?? tokenFrom(dataDir);

    const dynamo = await startDynamo({
      ...(dataDir ? { dataDir: join(dataDir, "dynamodb") } : {}),
      ...(options.observe?.dynamodb ? { observe: options.observe.dynamodb } : {}),
    });
    started.push(dynamo);
    const s3 = await startS3({
      ...(dataDir ? { dataDir: join(dataDir, "s3") } : {}),
      ...(options.observe?.s3 ? { observe: options.observe.s3 } : {}),
    });
    started.push(s3);
    // Its calls to DynamoDB and S3 pass a gate that checks them against its role's policies.
    const dynamoGate = await startIamGate({
      name: "DynamoDB",
      upstream: dynamo.endpoint,
      iam,
      authorizationsOf: dynamodbAuthorizations,
      denied: dynamodbDenied,
    });
    started.push(dynamoGate);
    const s3Gate = await startIamGate({
      name: "S3",
      upstream: s3.endpoint,
      iam,
      authorizationsOf: s3Authorizations,
      denied: s3Denied,
      rewrite: withS3rverKey(LOCAL_CREDENTIALS.accessKeyId),
    });
    started.push(s3Gate);
    const dynamodb = dynamoClient(dynamo.endpoint);
    for (const table of model.tables)
      await provisionTable(dynamodb, table.definition, {
        ...(table.timeToLiveAttribute ? { timeToLiveAttribute: table.timeToLiveAttribute } : {}),
      });
    const buckets = s3Client(s3.endpoint);
    for (const bucket of model.buckets) await provisionBucket(buckets, bucket.name);

    const values = secretValues(model, token, dataDir);
    const secretArn = (id: unknown) =>
      model.secrets.find((s) => s.arn === id || s.name === id)?.arn ??
      `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${String(id)}`;
    const secrets = await startAwsJsonService({
      name: "Secrets Manager",
      targetPrefix: "secretsmanager",
      contentType: "application/x-amz-json-1.1",
      authorize: checked((operation, input) => [
        { action: `secretsmanager:${operation}`, resource: secretArn(input.SecretId) },
      ]),
      operations: {
        GetSecretValue: ({ SecretId }: { SecretId?: string }) => {
          const secret = model.secrets.find((s) => s.arn === SecretId || s.name === SecretId);
          if (!secret)
            throw new AwsServiceError(
              "ResourceNotFoundException",
              "Secrets Manager can't find the specified secret.",
            );
          return {
            ARN: secret.arn,
            Name: secret.name,
            SecretString: values.get(secret.arn),
            VersionId: "local",
            VersionStages: ["AWSCURRENT"],
            CreatedDate: 0,
          };
        },
      },
    });
    started.push(secrets);

    const servicesEnvironment: Record<string, string> = {};
    const runtime = new LocalLambdaRuntime(model.functions, {
      ...(options.functionLog ? { functionLog: options.functionLog } : {}),
      environmentOf: (fn) => {
        // A function signs with its role's credentials; one without a role, with this machine's.
        const own = fn.role ? iam.credentialsOf({ role: fn.role, session: fn.name }) : undefined;
        return {
          ...servicesEnvironment,
          ...(own
            ? { AWS_ACCESS_KEY_ID: own.accessKeyId, AWS_SECRET_ACCESS_KEY: own.secretAccessKey }
            : {}),
        };
      },
    });
    /** As the state machine or a schedule: may `role` invoke the function? (Lambda.AWSLambdaException if not.) */
    const invokeAs = async (role: LocalRole | undefined, functionArnOrName: string) => {
      const fn = runtime.functionOf(functionArnOrName);
      if (!role || !fn) return;
      const principal: LocalPrincipal = { role, session: role.name };
      try {
        await iam.authorize(principal, [{ action: "lambda:InvokeFunction", resource: fn.arn }]);
      } catch (error) {
        if (!(error instanceof AccessDenied)) throw error;
        throw new LambdaInvocationError(
          "Lambda.AWSLambdaException",
          `${error.message} (Service: Lambda, Status Code: 403, Error Code: AccessDeniedException)`,
        );
      }
    };
    const statusEvents = new StatusEventDelivery(model.eventRules, model.queues, runtime, log);
    sendToQueue = (queueArn, body) => statusEvents.send(queueArn, body);
    const invokeAsStateMachine: LambdaInvoker = async (functionArn, payload) => {
      await invokeAs(model.stateMachine.role, functionArn);
      return runtime.invoke(functionArn, payload);
    };
    const stepFunctions = new LocalStepFunctions({
      stateMachineArn: model.stateMachine.arn,
      definition: model.stateMachine.definition,
      invoke: invokeAsStateMachine,
      ...(dataDir ? { dataFile: join(dataDir, "stepfunctions", "executions.json") } : {}),
      onStatusChange: statusEvents.publish,
    });
    // EventBridge PutEvents: a batch's own events go to the rules that match them, as on AWS.
    const eventsService = await startAwsJsonService({
      name: "EventBridge",
      targetPrefix: "AWSEvents",
      contentType: "application/x-amz-json-1.1",
      authorize: checked((operation, input) =>
        ((input.Entries ?? []) as PutEventsEntry[]).map((entry) => ({
          action: `events:${operation}`,
          resource: entry.EventBusName?.startsWith("arn:")
            ? entry.EventBusName
            : `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:event-bus/${entry.EventBusName ?? "default"}`,
        })),
      ),
      operations: {
        PutEvents: ({ Entries }: { Entries?: PutEventsEntry[] }) => ({
          FailedEntryCount: 0,
          Entries: (Entries ?? []).map((entry) => {
            const id = randomUUID();
            statusEvents.publish({
              version: "0",
              id,
              "detail-type": entry.DetailType ?? "",
              source: entry.Source ?? "",
              account: LOCAL_ACCOUNT,
              time: new Date().toISOString(),
              region: LOCAL_REGION,
              resources: entry.Resources ?? [],
              detail: entry.Detail ? (JSON.parse(entry.Detail) as unknown) : {},
            });
            return { EventId: id };
          }),
        }),
      },
    });
    started.push(eventsService);
    const sfnService = await startAwsJsonService({
      name: "Step Functions",
      targetPrefix: "AWSStepFunctions",
      authorize: checked((operation, input) => {
        const resource = input.executionArn ?? input.stateMachineArn;
        if (resource === undefined) return [{ action: `states:${operation}`, resource: "*" }];
        return typeof resource === "string" &&
          /^arn:aws:states:[^:]*:\d{12}:(execution|stateMachine):/.test(resource)
          ? [{ action: `states:${operation}`, resource }]
          : [];
      }),
      operations: stepFunctions.operations,
    });
    started.push(sfnService);

    // Where the services are, and how the handlers log: each function's sandbox gets these beside
    // its own variables from the template (and nothing else of this process's environment).
    Object.assign(servicesEnvironment, {
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoGate.endpoint,
      AWS_ENDPOINT_URL_S3: s3Gate.endpoint,
      AWS_ENDPOINT_URL_SFN: sfnService.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsService.endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventsService.endpoint,
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? process.env.STEPBATCH_LOG_LEVEL ?? "WARN",
      POWERTOOLS_TRACE_ENABLED: "false",
      POWERTOOLS_METRICS_DISABLED: "true",
      ...options.environment,
    });

    const recovered = stepFunctions.recoverInterrupted().length;
    if (recovered > 0)
      log(
        `${recovered} execution(s) were running when the stack stopped; they are now FAILED (LocalStackRestarted) and being reconciled`,
      );

    let apiUrl = "";
    const api = await startApiGateway({
      routes: model.routes,
      runtime,
      port: options.port ?? 3000,
      ...(model.stage ? { stage: model.stage } : {}),
      localRoutes: scheduleRoutes(model.schedules, runtime, token, invokeAs),
      console: createConsole({
        token,
        apiUrl: () => apiUrl,
        stepFunctions,
        stateMachine: model.stateMachine,
        ...(options.pipelineName ? { pipelineName: options.pipelineName } : {}),
      }),
      ...(options.logError ? { logError: options.logError } : {}),
    });
    started.push(api);
    apiUrl = api.endpoint;
    const scheduledRules = startScheduledRules(model.scheduledRules, runtime, log);

    return {
      apiUrl: api.endpoint,
      token,
      endpoints: {
        dynamodb: dynamoGate.endpoint,
        s3: s3Gate.endpoint,
        stepfunctions: sfnService.endpoint,
        secretsmanager: secrets.endpoint,
        sqs: sqsService.endpoint,
        eventbridge: eventsService.endpoint,
      },
      stepFunctions,
      statusEvents,
      stateMachineArn: model.stateMachine.arn,
      stateMachineDefinition: model.stateMachine.definition,
      invokeAsStateMachine,
      functions: model.functions,
      lambdaUsage: runtime.usage,
      recovered,
      synthMs,
      stop: async () => {
        scheduledRules.stop();
        await api.close();
        await stepFunctions.shutdown();
        await runtime.drain(2_000);
        await statusEvents.settled();
        await runtime.close();
        for (const service of [...started].reverse()) await service.close().catch(() => undefined);
        removeBuild();
        releaseUmask();
      },
    };
  } catch (error) {
    for (const service of started.reverse()) await service.close().catch(() => undefined);
    removeBuild();
    releaseUmask();
    throw error;
  }
}

/**
 * `GET /_local/schedules` lists the EventBridge Scheduler schedules of the template (their target
 * input parsed when it is JSON); `POST /_local/schedules/{name}/run` runs one occurrence now, as
 * EventBridge Scheduler would: the schedule's target Lambda with its input, the
 * `<aws.scheduler.*>` placeholders filled, `scheduled-time` set to now (or to `scheduledTime` from
 * the body, an ISO-8601 UTC timestamp). A schedule is named as deployed (its `Name`). Same token
 * rules and error shape as the API. (local/local-client.ts is their client.)
 */
function scheduleRoutes(
  schedules: readonly LocalSchedule[],
  runtime: LocalLambdaRuntime,
  token: string,
  invokeAs: (role: LocalRole | undefined, functionArn: string) => Promise<void>,
): LocalRoutes {
  return async ({ method, path, headers, body }) => {
    const given = tokenFromHeaders(headers);
    if (!given)
      return failure(
        401,
        "UNAUTHORIZED",
        "missing bearer token: send Authorization: Bearer <token>",
      );
    if (!tokensMatch(given, token))
      return failure(403, "FORBIDDEN", "the token is not valid for this API");
    if (method === "GET" && path === "/_local/schedules") {
      return {
        status: 200,
        body: {
          schedules: schedules.map(({ name, expression, timezone, enabled, input }) => ({
            name,
            expression,
            timezone,
            enabled,
            input: parsedOrText(input),
          })),
        },
      };
    }
    const match = /^\/_local\/schedules\/([^/]+)\/run$/.exec(path);
    if (method !== "POST" || !match)
      return failure(404, "NOT_FOUND", `no local route ${method} ${path}`);
    const rawName = match[1] ?? "";
    const name = decodeOrUndefined(rawName);
    const schedule = schedules.find((s) => s.name === name);
    if (!schedule) {
      const known = schedules.map((s) => s.name).join(", ") || "none";
      return failure(
        404,
        "SCHEDULE_NOT_FOUND",
        `no schedule '${name ?? rawName}' (schedules: ${known})`,
      );
    }
    const request = parseRunRequest(body);
    if (typeof request === "string") return failure(400, "VALIDATION_FAILED", request);
    const scheduledTime =
      request.scheduledTime ?? new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    // EventBridge Scheduler fills its placeholders in the target input; here they are filled in
    // the parsed input, so no value can change the JSON around it.
    const input = replaceInStrings(parsedOrText(schedule.input), {
      "<aws.scheduler.scheduled-time>": scheduledTime,
      "<aws.scheduler.execution-id>": randomUUID(),
      "<aws.scheduler.schedule-arn>": schedule.arn,
      "<aws.scheduler.attempt-number>": "1",
    });
    try {
      await invokeAs(schedule.role, schedule.functionArn);
      const answer = await runtime.invoke(schedule.functionArn, input);
      return {
        status: 202,
        body: {
          schedule: schedule.name,
          scheduledTime,
          ...(answer && typeof answer === "object" ? answer : { result: answer ?? null }),
        },
      };
    } catch (error) {
      const reason =
        error instanceof LambdaInvocationError
          ? `${error.errorType}: ${error.errorMessage}`
          : (error as Error).message;
      return failure(
        502,
        "SCHEDULED_START_FAILED",
        `schedule '${schedule.name}': its target failed: ${reason}`,
      );
    }
  };
}

/** AWS managed policies that grant only what the local stack does not serve (logs, X-Ray, ENIs). */
const NOTHING_SERVED_HERE =
  /:policy\/(service-role\/)?(AWSLambdaBasicExecutionRole|AWSLambdaVPCAccessExecutionRole|AWSXRayDaemonWriteAccess|AWSXrayWriteOnlyAccess)$/;

/**
 * Says which functions' roles have AWS managed policies (what those allow is refused here), and
 * which functions run as a role the template does not hold (their calls are not checked here).
 */
function warnOfUnknownPolicies(
  functions: ReadonlyMap<string, { logicalId: string; role?: LocalRole }>,
  log: (message: string) => void,
): void {
  for (const fn of functions.values())
    if (!fn.role)
      log(
        `function ${fn.logicalId}: its role is not in the template (imported, or another stack's), so the local stack cannot check its calls: they are all allowed here`,
      );
  for (const fn of functions.values())
    for (const policy of fn.role?.awsManagedPolicies ?? [])
      if (!NOTHING_SERVED_HERE.test(policy))
        log(
          `function ${fn.logicalId}: its role has the AWS managed policy ${policy}, whose contents the local stack does not know; calls only it allows are refused here (grant them in your CDK code, or start with --no-iam)`,
        );
}

/** A target input as JSON when it is JSON, else as the text it is. */
function parsedOrText(input: string): unknown {
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

const failure = (status: number, code: string, message: string) => ({
  status,
  body: { error: { code, message } },
});

/** A path segment decoded, or undefined when its escapes are malformed (`%E0%A4%A`). */
function decodeOrUndefined(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** ISO-8601 in UTC, as EventBridge Scheduler's `<aws.scheduler.scheduled-time>`: 2030-01-01T02:00:00Z. */
const UTC_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** The body of a run request (`{"scheduledTime"?}`, or nothing), or what is wrong with it. */
function parseRunRequest(body: string): { scheduledTime?: string } | string {
  if (!body.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    return `request body is not valid JSON: ${(error as Error).message}`;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
    return 'request body must be a JSON object such as {"scheduledTime":"2030-01-01T02:00:00Z"}';
  const { scheduledTime, ...rest } = parsed as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0)
    return `unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `'${k}'`).join(", ")}: only scheduledTime is accepted`;
  if (scheduledTime === undefined) return {};
  const example = "an ISO-8601 UTC timestamp such as 2030-01-01T02:00:00Z";
  if (typeof scheduledTime !== "string")
    return `scheduledTime must be ${example}, not a ${scheduledTime === null ? "null" : typeof scheduledTime}`;
  const date = new Date(scheduledTime);
  // The round trip refuses dates the pattern lets through but the calendar does not (02-30, 24:00).
  if (
    !UTC_TIMESTAMP.test(scheduledTime) ||
    Number.isNaN(date.getTime()) ||
    date.toISOString().slice(0, 19) !== scheduledTime.slice(0, 19)
  )
    return `scheduledTime must be ${example} (got ${JSON.stringify(scheduledTime.slice(0, 64))})`;
  return { scheduledTime };
}

/** `value` with every placeholder replaced in every string it holds (keys are left as they are). */
function replaceInStrings(value: unknown, replacements: Readonly<Record<string, string>>): unknown {
  if (typeof value === "string") {
    let text = value;
    // split/join: a replacement is inserted as it is ("$&" in it means nothing)
    for (const [placeholder, replacement] of Object.entries(replacements))
      text = text.split(placeholder).join(replacement);
    return text;
  }
  if (Array.isArray(value)) return value.map((item) => replaceInStrings(item, replacements));
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, replaceInStrings(item, replacements)]),
    );
  return value;
}

/** The token kept in `<dataDir>/token` (created once, readable by its owner only); a fresh one in memory. */
function tokenFrom(dataDir: string | undefined): string {
  if (!dataDir) return randomBytes(24).toString("base64url");
  const file = join(dataDir, "token");
  // An empty file (left by a crash mid-write before writes were atomic) holds no token: make one.
  const kept = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
  if (kept) return kept;
  const token = randomBytes(24).toString("base64url");
  writeFileAtomic(file, `${token}\n`);
  return token;
}
