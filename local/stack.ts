import { createHash, randomBytes, randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { StepbatchStackProps } from "../infra/stepbatch-stack";
import { type LocalRoutes, startApiGateway } from "./api-gateway";
import { AwsServiceError, startAwsJsonService } from "./aws-json-service";
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
} from "./emulators";
import { LambdaInvocationError, LocalLambdaRuntime } from "./lambda-runtime";
import { startScheduledRules } from "./scheduled-rules";
import { StatusEventDelivery } from "./status-events";
import { LocalStepFunctions } from "./stepfunctions";
import { type LocalQueue, type LocalSchedule, readAppModel, synthesizeTemplate } from "./template";

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
  /** Executions that were running at the last stop and were aborted at this start. */
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
  if (dataDir) mkdirSync(dataDir, { recursive: true });
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
        `${recovered} execution(s) were running when the stack stopped; they are now ABORTED and being reconciled`,
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
      },
    };
  } catch (error) {
    for (const service of started.reverse()) await service.close().catch(() => undefined);
    throw error;
  }
}

/**
 * `GET /_local/schedules` lists the schedules of the template; `POST /_local/schedules/{name}/run`
 * runs one occurrence now, as EventBridge Scheduler would: the schedule's target Lambda with its
 * input, `<aws.scheduler.scheduled-time>` set to now (or to `scheduledTime` from the body).
 */
function scheduleRoutes(
  schedules: readonly LocalSchedule[],
  runtime: LocalLambdaRuntime,
  token: string,
): LocalRoutes {
  return async (method, path, body, authorization) => {
    if (authorization !== `Bearer ${token}`)
      return {
        status: 401,
        body: { error: { code: "UNAUTHORIZED", message: "send Authorization: Bearer <token>" } },
      };
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
      return {
        status: 404,
        body: { error: { code: "NOT_FOUND", message: `no local route ${method} ${path}` } },
      };
    const name = decodeURIComponent(match[1] ?? "");
    const schedule = schedules.find((s) => s.name === name);
    if (!schedule) {
      const known = schedules.map((s) => s.name).join(", ") || "none";
      return {
        status: 404,
        body: {
          error: {
            code: "SCHEDULE_NOT_FOUND",
            message: `no schedule '${name}' (schedules: ${known})`,
          },
        },
      };
    }
    let scheduledTime = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    if (body.trim()) {
      const requested = (JSON.parse(body) as { scheduledTime?: string }).scheduledTime;
      if (requested) scheduledTime = requested;
    }
    const input = schedule.input
      .replaceAll("<aws.scheduler.scheduled-time>", scheduledTime)
      .replaceAll("<aws.scheduler.execution-id>", randomUUID());
    try {
      const started = await runtime.invoke(schedule.functionArn, JSON.parse(input));
      return { status: 202, body: { schedule: name, scheduledTime, ...(started as object) } };
    } catch (error) {
      const message =
        error instanceof LambdaInvocationError ? error.errorMessage : (error as Error).message;
      const status =
        error instanceof LambdaInvocationError && error.errorType === "Validation" ? 400 : 502;
      return {
        status,
        body: {
          error: {
            code: "SCHEDULED_START_FAILED",
            message: `schedule '${name}' could not start its batch: ${message}`,
          },
        },
      };
    }
  };
}

/** The token kept in `<dataDir>/token` (created once, readable by its owner only); a fresh one in memory. */
function tokenFrom(dataDir: string | undefined): string {
  if (!dataDir) return randomBytes(24).toString("base64url");
  const file = join(dataDir, "token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const token = randomBytes(24).toString("base64url");
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}
