import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as apigateway from "aws-cdk-lib/aws-apigateway";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { MAX_CONCURRENCY, MAX_JOBS_PER_BATCH } from "../../functions/core/schemas.ts";
import { executionArnPattern } from "../executions.ts";
import { acknowledge } from "../nag.ts";
import type { BatchStorage } from "./batch-storage.ts";
import { StepbatchFunction } from "./stepbatch-function.ts";

export interface BatchApiProps {
  readonly storage: BatchStorage;
  readonly stateMachine: sfn.IStateMachine;
  /** The reconciler's queue: a cancel of a large batch hands it the marking of queued jobs. */
  readonly reconcileQueue: sqs.IQueue;
  /** Settings every state-touching function needs (table, bucket, poll interval). */
  readonly stateEnvironment: Record<string, string>;
  /** POST /batches's entry, generated for the pipeline (it checks job inputs against its schemas). */
  readonly submitEntry: string;
  /** @default "v1" */
  readonly stageName?: string;
  /** Requests per second across the API. @default 50 */
  readonly throttlingRateLimit?: number;
}

type Grant = (fn: StepbatchFunction) => void;

interface Route {
  readonly id: string;
  readonly method: "GET" | "POST" | "DELETE";
  readonly path: string;
  readonly entry: string;
  readonly description: string;
  readonly grants: readonly Grant[];
  readonly model?: apigateway.JsonSchema;
  readonly timeout?: Duration;
}

/**
 * The HTTPS API: REST API, bearer-token authorizer backed by Secrets Manager, one Lambda per route.
 * Only POST /batches has a gateway model (its body is required); cancel bodies are optional, so
 * they, like everything else, are validated by the handlers with messages that name the problem.
 */
export class BatchApi extends Construct {
  readonly api: apigateway.RestApi;
  readonly tokenSecret: secretsmanager.Secret;
  readonly authorizerFunction: StepbatchFunction;
  /** Route id -> function, e.g. `cancelBatch`. */
  readonly functions: Record<string, StepbatchFunction> = {};

  constructor(scope: Construct, id: string, props: BatchApiProps) {
    super(scope, id);
    const { storage, stateMachine } = props;

    this.tokenSecret = new secretsmanager.Secret(this, "ApiToken", {
      description: "stepbatch API bearer token",
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.authorizerFunction = new StepbatchFunction(this, "Authorizer", {
      entry: "functions/handlers/authorizer.ts",
      description: "stepbatch: bearer token authorizer",
      timeout: Duration.seconds(10),
      environment: { TOKEN_SECRET_ARN: this.tokenSecret.secretArn },
    });
    this.tokenSecret.grantRead(this.authorizerFunction.role);
    acknowledge(
      this.tokenSecret,
      "AwsSolutions-SMG4",
      "A static operator token: rotate it by putting a new secret value (see README); the authorizer re-reads it within 5 minutes.",
    );

    const accessLogs = new logs.LogGroup(this, "AccessLogs", {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api = new apigateway.RestApi(this, "Api", {
      description: "stepbatch: run and stop batches of long jobs",
      deployOptions: {
        stageName: props.stageName ?? "v1",
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: apigateway.MethodLoggingLevel.INFO,
        dataTraceEnabled: false,
        throttlingRateLimit: props.throttlingRateLimit ?? 50,
        throttlingBurstLimit: (props.throttlingRateLimit ?? 50) * 2,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
      },
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.DESTROY,
    });
    this.addJsonGatewayResponses();
    acknowledge(
      this.api,
      "AwsSolutions-APIG3",
      "No WAF by default (it has a fixed monthly cost); every route needs the bearer token and the stage is throttled. Attach a web ACL to the stage if you need one.",
    );
    acknowledge(
      this.api,
      "AwsSolutions-COG4",
      "Operators authenticate with a bearer token checked by a Lambda authorizer in constant time; there is no user pool by design.",
    );
    acknowledge(
      this.api,
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
      "The account-level API Gateway logging role; AWS documents this managed policy for it.",
    );

    const authorizer = new apigateway.RequestAuthorizer(this, "TokenAuthorizer", {
      handler: this.authorizerFunction.function,
      // No identity source: the authorizer itself reads Authorization or X-Admin-Token,
      // which API Gateway can only allow when results are not cached.
      identitySources: [],
      resultsCacheTtl: Duration.seconds(0),
    });
    const validator = new apigateway.RequestValidator(this, "BodyValidator", {
      restApi: this.api,
      validateRequestBody: true,
      validateRequestParameters: true,
    });

    const readState: Grant = (fn) => storage.grantStateRead(fn);
    const writeState: Grant = (fn) => storage.grantStateWrite(fn);
    const readResults: Grant = (fn) => storage.grantResultsRead(fn, "results");
    const writeManifest: Grant = (fn) => storage.grantResultsWrite(fn, "manifests");
    const writeConsolidated: Grant = (fn) => storage.grantResultsWrite(fn, "consolidated");
    const deferMarking: Grant = (fn) => {
      props.reconcileQueue.grantSendMessages(fn.function);
      fn.function.addEnvironment("RECONCILE_QUEUE_URL", props.reconcileQueue.queueUrl);
    };
    const stopExecutions: Grant = (fn) => {
      // StopExecution on this state machine's executions only.
      stateMachine.grantExecution(fn.function, "states:StopExecution");
      fn.acknowledgeWildcardResource(
        executionArnPattern(stateMachine),
        "StopExecution must reach any execution (batch) of this one state machine; execution names are batch ids.",
      );
    };
    const routes: Route[] = [
      {
        id: "submitBatch",
        method: "POST",
        path: "/batches",
        entry: props.submitEntry,
        description: "start a batch",
        grants: [writeState, (fn) => stateMachine.grantStartExecution(fn.function)],
        model: submitModel,
      },
      {
        id: "listBatches",
        method: "GET",
        path: "/batches",
        entry: "functions/handlers/api/list-batches.ts",
        description: "list batches",
        grants: [readState],
      },
      {
        id: "getBatch",
        method: "GET",
        path: "/batches/{batchId}",
        entry: "functions/handlers/api/get-batch.ts",
        description: "batch status",
        grants: [readState],
      },
      {
        id: "getResults",
        method: "GET",
        path: "/batches/{batchId}/results",
        entry: "functions/handlers/api/get-results.ts",
        description: "batch results so far",
        grants: [readState, readResults],
      },
      {
        id: "cancelBatch",
        method: "POST",
        path: "/batches/{batchId}/cancel",
        entry: "functions/handlers/api/cancel-batch.ts",
        description: "cancel a batch or a subset of its jobs",
        grants: [writeState, readResults, writeManifest, stopExecutions, deferMarking],
        timeout: Duration.seconds(29),
      },
      {
        id: "resumeBatch",
        method: "POST",
        path: "/batches/{batchId}/resume",
        entry: "functions/handlers/api/resume-batch.ts",
        description: "run a batch's cancelled jobs again, in a new run",
        grants: [
          writeState,
          (fn) => stateMachine.grantStartExecution(fn.function),
          (fn) => {
            // A resume cut short is finished by the next: it asks whether the run's execution exists.
            stateMachine.grantExecution(fn.function, "states:DescribeExecution");
            fn.acknowledgeWildcardResource(
              executionArnPattern(stateMachine),
              "A resume asks how its batch's new run stands; the run's execution is named after the batch id.",
            );
          },
        ],
        timeout: Duration.seconds(29),
      },
      {
        id: "getCancellation",
        method: "GET",
        path: "/batches/{batchId}/cancellations/{cancellationId}",
        entry: "functions/handlers/api/get-cancellation.ts",
        description: "a cancel's receipt: each affected job's outcome as it settles",
        grants: [readState],
      },
      {
        id: "getJob",
        method: "GET",
        path: "/batches/{batchId}/jobs/{jobId}",
        entry: "functions/handlers/api/get-job.ts",
        description: "one job",
        grants: [readState],
      },
      {
        id: "getJobOutput",
        method: "GET",
        path: "/batches/{batchId}/jobs/{jobId}/output",
        entry: "functions/handlers/api/get-job-output.ts",
        description: "one job's outputs, items and checkpoints",
        grants: [readState, readResults],
      },
      {
        id: "cancelJob",
        method: "POST",
        path: "/batches/{batchId}/jobs/{jobId}/cancel",
        entry: "functions/handlers/api/cancel-job.ts",
        description: "cancel one job",
        grants: [writeState],
      },
      {
        id: "deleteJob",
        method: "DELETE",
        path: "/batches/{batchId}/jobs/{jobId}",
        entry: "functions/handlers/api/delete-job.ts",
        description: "delete a finished job",
        grants: [writeState],
      },
      {
        id: "consolidate",
        method: "POST",
        path: "/batches/{batchId}/consolidate",
        entry: "functions/handlers/api/consolidate.ts",
        description: "write results to permanent storage",
        // Reading consolidated/ lets the download link it answers with work (it is signed as this role).
        grants: [
          readState,
          readResults,
          writeConsolidated,
          (fn) => storage.grantResultsRead(fn, "consolidated"),
        ],
        timeout: Duration.seconds(29),
      },
    ];

    for (const route of routes) {
      const fn = new StepbatchFunction(this, route.id.charAt(0).toUpperCase() + route.id.slice(1), {
        entry: route.entry,
        description: `stepbatch API: ${route.description}`,
        timeout: route.timeout ?? Duration.seconds(15),
        environment: { ...props.stateEnvironment, STATE_MACHINE_ARN: stateMachine.stateMachineArn },
      });
      for (const grant of route.grants) grant(fn);
      this.functions[route.id] = fn;
      const resource = this.api.root.resourceForPath(route.path);
      resource.addMethod(route.method, new apigateway.LambdaIntegration(fn.function), {
        authorizer,
        authorizationType: apigateway.AuthorizationType.CUSTOM,
        operationName: route.id,
        ...(route.model
          ? {
              requestValidator: validator,
              requestModels: {
                "application/json": new apigateway.Model(this, `${route.id}Model`, {
                  restApi: this.api,
                  contentType: "application/json",
                  schema: route.model,
                }),
              },
            }
          : {}),
      });
    }
  }

  /** API Gateway's own errors in the same JSON shape as the handlers' errors. */
  private addJsonGatewayResponses(): void {
    const responses: [string, apigateway.ResponseType, string, string][] = [
      [
        "Unauthorized",
        apigateway.ResponseType.UNAUTHORIZED,
        "UNAUTHORIZED",
        "missing bearer token: send Authorization: Bearer <token>",
      ],
      [
        "AccessDenied",
        apigateway.ResponseType.ACCESS_DENIED,
        "FORBIDDEN",
        "the token is not valid for this API",
      ],
      [
        "BadBody",
        apigateway.ResponseType.BAD_REQUEST_BODY,
        "VALIDATION_FAILED",
        "$context.error.validationErrorString",
      ],
      ["Default4xx", apigateway.ResponseType.DEFAULT_4XX, "BAD_REQUEST", "$context.error.message"],
      ["Default5xx", apigateway.ResponseType.DEFAULT_5XX, "INTERNAL", "$context.error.message"],
    ];
    for (const [id, type, code, message] of responses) {
      this.api.addGatewayResponse(id, {
        type,
        responseHeaders: { "Content-Type": "'application/json'" },
        templates: { "application/json": `{"error":{"code":"${code}","message":"${message}"}}` },
      });
    }
  }
}

const jobsItem: apigateway.JsonSchema = {
  oneOf: [
    { type: apigateway.JsonSchemaType.STRING, minLength: 1 },
    {
      type: apigateway.JsonSchemaType.OBJECT,
      required: ["name"],
      properties: { name: { type: apigateway.JsonSchemaType.STRING, minLength: 1 } },
    },
  ],
};

const submitModel: apigateway.JsonSchema = {
  schema: apigateway.JsonSchemaVersion.DRAFT4,
  type: apigateway.JsonSchemaType.OBJECT,
  required: ["jobs"],
  properties: {
    name: { type: apigateway.JsonSchemaType.STRING },
    jobs: {
      type: apigateway.JsonSchemaType.ARRAY,
      minItems: 1,
      maxItems: MAX_JOBS_PER_BATCH,
      items: jobsItem,
    },
    concurrency: { type: apigateway.JsonSchemaType.INTEGER, minimum: 1, maximum: MAX_CONCURRENCY },
  },
};
