import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import { NON_RETRYABLE_ERRORS } from "../../functions/domain/errors.ts";
import type { PipelinePhase } from "../../sdk/index.ts";
import { alarmOnAny } from "../alarms.ts";
import { acknowledge, acknowledgeWildcardResource } from "../nag.ts";
import { generateEntry, type PipelineSource } from "../pipeline.ts";
import type { BatchStorage } from "./batch-storage.ts";
import { StepbatchFunction } from "./stepbatch-function.ts";

export interface BatchWorkflowProps {
  readonly storage: BatchStorage;
  /** The pipeline: the phases each job runs in order; the last one commits and is fenced. */
  readonly pipeline: PipelineSource;
  /** How often running phases re-read the cancel intent. @default Duration.millis(500) */
  readonly cancelPollInterval?: Duration;
  /** Attempts after the first for a phase that throws, unless the pipeline says. @default 2 */
  readonly phaseRetries?: number;
  /** Longest a batch may run. @default Duration.hours(24) */
  readonly batchTimeout?: Duration;
  /** @default true */
  readonly deployAlarms?: boolean;
}

/**
 * The batch state machine (STANDARD): a Map over the batch's jobs running each job's phases in
 * order, with a Choice after each phase that ends a cancelled job's iteration, then Finalize.
 */
export class BatchWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly phaseFunctions: readonly StepbatchFunction[];
  readonly finalizeFunction: StepbatchFunction;
  readonly recordFailureFunction: StepbatchFunction;
  readonly alarms: cloudwatch.Alarm[] = [];
  /** Environment every function that touches batch state needs. */
  readonly stateEnvironment: Record<string, string>;

  constructor(scope: Construct, id: string, props: BatchWorkflowProps) {
    super(scope, id);
    const { storage } = props;
    const { pipeline } = props;
    const phases = pipeline.definition.phases;
    validatePhases(phases);
    this.stateEnvironment = {
      TABLE_NAME: storage.table.tableName,
      BUCKET_NAME: storage.bucket.bucketName,
      CANCEL_POLL_MS: String((props.cancelPollInterval ?? Duration.millis(500)).toMilliseconds()),
      SUMMARY_FIELDS: JSON.stringify(pipeline.definition.summary?.fields ?? {}),
    };

    this.phaseFunctions = phases.map((phase) => {
      const fn = new StepbatchFunction(this, `${phase.name.replace(/\s/g, "")}Phase`, {
        entry: generateEntry(pipeline, "phase", phase.name),
        description: `stepbatch ${pipeline.definition.name} pipeline: phase ${phase.name}`,
        timeout: Duration.seconds(phase.timeoutSeconds ?? 300),
        memorySize: phase.memoryMb ?? 512,
        environment: { ...phase.environment, ...this.stateEnvironment },
      });
      storage.grantStateWrite(fn);
      storage.grantResultsRead(fn, "results");
      storage.grantResultsWrite(fn, "results");
      return fn;
    });
    this.recordFailureFunction = new StepbatchFunction(this, "RecordFailure", {
      entry: "functions/handlers/workflow/record-job-failure.ts",
      description: "stepbatch: record a job whose phase kept failing",
      environment: this.stateEnvironment,
    });
    storage.grantStateWrite(this.recordFailureFunction);
    this.finalizeFunction = new StepbatchFunction(this, "Finalize", {
      entry: "functions/handlers/workflow/finalize.ts",
      description: "stepbatch: final batch status and consolidated results",
      timeout: Duration.minutes(5),
      environment: this.stateEnvironment,
    });
    storage.grantStateWrite(this.finalizeFunction);
    storage.grantResultsRead(this.finalizeFunction, "results");
    storage.grantResultsWrite(this.finalizeFunction, "manifests", "consolidated");

    const jobCancelled = new sfn.Succeed(this, "Job cancelled");
    const jobEnded = new sfn.Succeed(this, "Job ended");
    const recordFailure = new tasks.LambdaInvoke(this, "Record job failure", {
      lambdaFunction: this.recordFailureFunction.function,
      payload: sfn.TaskInput.fromObject({
        batchId: sfn.JsonPath.stringAt("$.batchId"),
        jobId: sfn.JsonPath.stringAt("$.jobId"),
        // The whole object: Cause is absent for some errors, and a missing path is a runtime error.
        failure: sfn.JsonPath.objectAt("$.failure"),
      }),
      resultPath: sfn.JsonPath.DISCARD,
      retryOnServiceExceptions: true,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
    }).next(
      new sfn.Succeed(this, "Job failed", {
        comment: "The job record says failed; the batch goes on",
      }),
    );

    // Build the job's chain from the last phase backwards.
    let next: sfn.IChainable = jobEnded;
    for (let i = phases.length - 1; i >= 0; i--) {
      const phase = phases[i] as PipelinePhase;
      const fn = this.phaseFunctions[i] as StepbatchFunction;
      const isFinal = i === phases.length - 1;
      const task = new tasks.LambdaInvoke(this, phase.name, {
        lambdaFunction: fn.function,
        payload: sfn.TaskInput.fromObject({
          batchId: sfn.JsonPath.stringAt("$.batchId"),
          jobId: sfn.JsonPath.stringAt("$.jobId"),
          phase: phase.name,
          isFinal,
        }),
        resultSelector: { "outcome.$": "$.Payload.outcome" },
        resultPath: "$.last",
        retryOnServiceExceptions: false,
        // A little past the Lambda's own timeout, so a hung invocation surfaces as States.Timeout.
        taskTimeout: sfn.Timeout.duration(Duration.seconds((phase.timeoutSeconds ?? 300) + 30)),
      });
      // A phase that stops for a cancel returns (it is never retried); a job whose input no longer
      // fits is not retried either; anything else is, with backoff.
      task.addRetry({ errors: [...NON_RETRYABLE_ERRORS], maxAttempts: 0 });
      task.addRetry({
        errors: [sfn.Errors.ALL],
        interval: Duration.seconds(1),
        backoffRate: 2,
        maxAttempts: phase.retries ?? props.phaseRetries ?? 2,
        jitterStrategy: sfn.JitterType.FULL,
      });
      task.addCatch(recordFailure, { errors: [sfn.Errors.ALL], resultPath: "$.failure" });
      const after = new sfn.Choice(this, `After ${phase.name}`)
        .when(sfn.Condition.stringEquals("$.last.outcome", "cancelled"), jobCancelled)
        .when(sfn.Condition.stringEquals("$.last.outcome", "continue"), next)
        .otherwise(jobEnded);
      next = task.next(after);
    }

    // Inline Map fails on any failed iteration (ToleratedFailurePercentage is Distributed Map only),
    // so a failed job's iteration ends in "Job failed", a Succeed state, and the batch goes on.
    const runJobs = new sfn.Map(this, "Run jobs", {
      itemsPath: "$.jobs",
      maxConcurrencyPath: "$.concurrency",
      itemSelector: {
        "batchId.$": "$.batchId",
        "jobId.$": "$$.Map.Item.Value.jobId",
      },
      resultPath: sfn.JsonPath.DISCARD,
    });
    runJobs.itemProcessor(next);

    const finalize = new tasks.LambdaInvoke(this, "Finalize batch", {
      lambdaFunction: this.finalizeFunction.function,
      payload: sfn.TaskInput.fromObject({ batchId: sfn.JsonPath.stringAt("$.batchId") }),
      resultSelector: {
        "batchId.$": "$.Payload.batchId",
        "status.$": "$.Payload.status",
        "counts.$": "$.Payload.counts",
      },
      retryOnServiceExceptions: true,
    });
    finalize.addRetry({
      errors: [sfn.Errors.ALL],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 3,
    });

    const logGroup = new logs.LogGroup(this, "ExecutionLogs", {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, "StateMachine", {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(runJobs.next(finalize)),
      comment: "stepbatch: one execution per batch, named by its batchId",
      timeout: props.batchTimeout ?? Duration.hours(24),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });

    acknowledge(
      this.stateMachine,
      "AwsSolutions-IAM5[Resource::*]",
      "X-Ray tracing and CloudWatch Logs delivery for Step Functions support no resource-level permissions.",
    );
    for (const fn of [...this.phaseFunctions, this.recordFailureFunction, this.finalizeFunction]) {
      acknowledgeWildcardResource(
        this.stateMachine,
        `${fn.function.functionArn}:*`,
        "LambdaInvoke grants the function and its versions/aliases (ARN:*); it is scoped to this one function.",
      );
    }

    if (props.deployAlarms ?? true) {
      this.alarms.push(
        alarmOnAny(
          this,
          "ExecutionsFailed",
          this.stateMachine.metricFailed(),
          "A stepbatch batch execution failed",
        ),
        alarmOnAny(
          this,
          "ExecutionsTimedOut",
          this.stateMachine.metricTimedOut(),
          "A stepbatch batch execution timed out",
        ),
      );
    }
  }
}

function validatePhases(phases: readonly PipelinePhase[]): void {
  if (phases.length === 0) throw new Error("BatchWorkflow needs at least one phase");
  const names = new Set<string>();
  for (const phase of phases) {
    if (!/^[A-Za-z][A-Za-z0-9 ]{0,40}$/.test(phase.name)) {
      throw new Error(
        `phase name '${phase.name}' must start with a letter and hold only letters, digits and spaces`,
      );
    }
    if (names.has(phase.name)) throw new Error(`phase name '${phase.name}' is used twice`);
    names.add(phase.name);
  }
}
