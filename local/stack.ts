import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tokenFromHeaders, tokensMatch } from "../functions/domain/token.ts";
import type { StepbatchStackProps } from "../infra/stepbatch-stack.ts";
import { type LocalRoutes, startApiGateway } from "./api-gateway.ts";
import { AwsServiceError, startAwsJsonService } from "./aws-json-service.ts";
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
import { LambdaInvocationError, LocalLambdaRuntime } from "./lambda-runtime.ts";
import { startScheduledRules } from "./scheduled-rules.ts";
import { StatusEventDelivery } from "./status-events.ts";
import { LocalStepFunctions } from "./stepfunctions.ts";
import {
  type LocalQueue,
  type LocalSchedule,
  readAppModel,
  synthesizeTemplate,
} from "./template.ts";

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
  /** Props of the synthesized StepbatchStack (e.g. other phases). @default the deployed defaults */
  readonly stackProps?: StepbatchStackProps;
  /** Sees every request DynamoDB and S3 receive (the benchmark counts them). */
  readonly observe?: { dynamodb?: RequestObserver; s3?: RequestObserver };
}

export interface LocalStack {
  readonly apiUrl: string;
  readonly token: string;
  readonly endpoints: Readonly<
    Record<"dynamodb" | "s3" | "stepfunctions" | "secretsmanager", string>
  >;
  readonly stepFunctions: LocalStepFunctions;
  readonly statusEvents: StatusEventDelivery;
  readonly stateMachineArn: string;
  /** Lambda usage so far (invocations, GB-seconds). */
  readonly lambdaUsage: LocalLambdaRuntime["usage"];
  /** Executions that were running at the last stop and were failed at this start. */
  readonly recovered: number;
  stop(): Promise<void>;
}

/**
 * The embedded local stack: dynalite, s3rver, a local Step Functions service running the
 * synthesized definition, a local Secrets Manager holding the API token, the status-change feed
 * to the reconciler, and the REST API, all in this process. Handlers are the real modules and
 * reach every service through AWS_ENDPOINT_URL_<SERVICE> only.
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
  try {
    // SQS first: the template's queue URLs must name it. Messages go to the queue's consumer.
    let deliverToQueue: (queueArn: string, body: string) => boolean = () => false;
    let queues: readonly LocalQueue[] = [];
    const sqsService = await startAwsJsonService({
      name: "SQS",
      targetPrefix: "AmazonSQS",
      operations: {
        SendMessage: ({ QueueUrl, MessageBody }: { QueueUrl?: string; MessageBody?: string }) => {
          const queue = queues.find((q) => q.url === QueueUrl);
          if (!queue || !MessageBody)
            throw new AwsServiceError(
              "AWS.SimpleQueueService.NonExistentQueue",
              `The specified queue does not exist: ${QueueUrl}`,
            );
          if (!deliverToQueue(queue.arn, MessageBody))
            throw new AwsServiceError(
              "AWS.SimpleQueueService.NonExistentQueue",
              `No consumer reads ${QueueUrl} locally`,
            );
          return {
            MessageId: randomUUID(),
            MD5OfMessageBody: createHash("md5").update(MessageBody).digest("hex"),
          };
        },
      },
    });
    started.push(sqsService);
    const model = readAppModel(synthesizeTemplate(options.stackProps), {
      sqsEndpoint: sqsService.endpoint,
    });
    queues = model.queues;
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
    await provisionTable(dynamoClient(dynamo.endpoint), model.tableName);
    await provisionBucket(s3Client(s3.endpoint), model.bucketName);

    const secrets = await startAwsJsonService({
      name: "Secrets Manager",
      targetPrefix: "secretsmanager",
      contentType: "application/x-amz-json-1.1",
      operations: {
        GetSecretValue: ({ SecretId }: { SecretId?: string }) => {
          if (SecretId !== model.tokenSecretArn)
            throw new AwsServiceError(
              "ResourceNotFoundException",
              "Secrets Manager can't find the specified secret.",
            );
          return {
            ARN: model.tokenSecretArn,
            Name: "stepbatch-api-token",
            SecretString: token,
            VersionId: "local",
            VersionStages: ["AWSCURRENT"],
            CreatedDate: 0,
          };
        },
      },
    });
    started.push(secrets);

    const runtime = new LocalLambdaRuntime(model.functions, PROJECT_ROOT);
    const statusEvents = new StatusEventDelivery(model.statusChangeConsumers, runtime, log);
    deliverToQueue = (queueArn, body) => statusEvents.send(queueArn, body);
    const stepFunctions = new LocalStepFunctions({
      stateMachineArn: model.stateMachineArn,
      definition: model.definition,
      invoke: (functionArn, payload) => runtime.invoke(functionArn, payload),
      ...(dataDir ? { dataFile: join(dataDir, "stepfunctions", "executions.json") } : {}),
      onStatusChange: statusEvents.publish,
    });
    const sfnService = await startAwsJsonService({
      name: "Step Functions",
      targetPrefix: "AWSStepFunctions",
      operations: stepFunctions.operations,
    });
    started.push(sfnService);

    // The handlers' environment: the template's variables, plus where the services are.
    Object.assign(process.env, LocalLambdaRuntime.environmentOf(model.functions), {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SFN: sfnService.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsService.endpoint,
      POWERTOOLS_LOG_LEVEL: options.logLevel ?? process.env.STEPBATCH_LOG_LEVEL ?? "WARN",
      POWERTOOLS_TRACE_ENABLED: "false",
      POWERTOOLS_METRICS_DISABLED: "true",
    });

    const recovered = stepFunctions.recoverInterrupted().length;
    if (recovered > 0)
      log(
        `${recovered} execution(s) were running when the stack stopped; they are now FAILED (LocalStackRestarted) and being reconciled`,
      );

    const api = await startApiGateway({
      routes: model.routes,
      runtime,
      port: options.port ?? 3000,
      localRoutes: scheduleRoutes(model.schedules, runtime, token),
    });
    started.push(api);
    const scheduledRules = startScheduledRules(model.scheduledRules, runtime, log);

    return {
      apiUrl: api.endpoint,
      token,
      endpoints: {
        dynamodb: dynamo.endpoint,
        s3: s3.endpoint,
        stepfunctions: sfnService.endpoint,
        secretsmanager: secrets.endpoint,
      },
      stepFunctions,
      statusEvents,
      stateMachineArn: model.stateMachineArn,
      lambdaUsage: runtime.usage,
      recovered,
      stop: async () => {
        scheduledRules.stop();
        await api.close();
        await stepFunctions.shutdown();
        await runtime.drain(2_000);
        await statusEvents.settled();
        for (const service of [...started].reverse()) await service.close().catch(() => undefined);
        releaseUmask();
      },
    };
  } catch (error) {
    for (const service of started.reverse()) await service.close().catch(() => undefined);
    releaseUmask();
    throw error;
  }
}

/**
 * `GET /_local/schedules` lists the schedules of the template; `POST /_local/schedules/{name}/run`
 * runs one occurrence now, as EventBridge Scheduler would: the schedule's target Lambda with its
 * input, `<aws.scheduler.scheduled-time>` set to now (or to `scheduledTime` from the body, an
 * ISO-8601 UTC timestamp). Same token rules and error shape as the API.
 */
function scheduleRoutes(
  schedules: readonly LocalSchedule[],
  runtime: LocalLambdaRuntime,
  token: string,
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
          schedules: schedules.map(({ input, functionArn, ...schedule }) => ({
            ...schedule,
            batch: JSON.parse(input).batch,
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
    const input = replaceInStrings(JSON.parse(schedule.input), {
      "<aws.scheduler.scheduled-time>": scheduledTime,
      "<aws.scheduler.execution-id>": randomUUID(),
    });
    try {
      const started = await runtime.invoke(schedule.functionArn, input);
      return {
        status: 202,
        body: { schedule: schedule.name, scheduledTime, ...(started as object) },
      };
    } catch (error) {
      const message =
        error instanceof LambdaInvocationError ? error.errorMessage : (error as Error).message;
      const status =
        error instanceof LambdaInvocationError && error.errorType === "Validation" ? 400 : 502;
      return failure(
        status,
        "SCHEDULED_START_FAILED",
        `schedule '${schedule.name}' could not start its batch: ${message}`,
      );
    }
  };
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
