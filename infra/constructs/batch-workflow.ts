import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { NodejsFunctionProps } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import { ERROR_NAMES, NON_RETRYABLE_ERRORS } from "../../functions/core/errors.ts";
import type { PipelinePhase } from "../../sdk/index.ts";
import { alarmOnAny } from "../alarms.ts";
import { acknowledge, acknowledgeWildcardResource } from "../nag.ts";
import { generateEntry, type PipelineSource } from "../pipeline.ts";
import type { MonitoredFunction } from "./batch-monitoring.ts";
import type { BatchStorage, StorageGrantee } from "./batch-storage.ts";
import { STEPBATCH_OWNED_PROPS, StepbatchFunction } from "./stepbatch-function.ts";

/**
 * What one phase's function needs on AWS beyond what the pipeline says. The pipeline is plain data
 * (it is bundled into every function); these are CDK objects, so they are given to the construct,
 * keyed by phase name (`phaseFunctions`). Conflicting settings fail at synth, naming the phase.
 */
export interface PhaseFunctionOptions {
  /**
   * Extra props for the function stepbatch builds for this phase: layers, VPC, architecture,
   * ephemeral storage, ... merged over stepbatch's defaults (`environment` key by key, `bundling`
   * option by option). `memorySize` and `timeout` may stand in for the pipeline's `memoryMb` and
   * `timeoutSeconds`, and must agree with them when both are set; `environment` may not set
   * stepbatch's own variables (TABLE_NAME, BUCKET_NAME, CANCEL_POLL_MS, SUMMARY_FIELDS), nor the
   * pipeline's with other values. Who the function runs as, what code it runs and where it logs
   * stay stepbatch's (STEPBATCH_OWNED_PROPS: role, runtime, handler, entry, bundling format and
   * banner, ...). Not with `existingFunction`.
   * @default none
   */
  readonly functionProps?: NodejsFunctionProps;
  /**
   * A function you built to run this phase, instead of one stepbatch builds. Its handler must be
   * the stepbatch phase handler of this phase: the module `generateEntry(pipeline, "phase", name)`
   * (infra/pipeline.ts) writes, bundled as ESM. stepbatch adds its environment variables to it,
   * grants it the table and bucket access a phase needs, and the state machine invokes it (the task
   * times out 30 s after the function does). Its memory, timeout and environment are yours, so the
   * pipeline may not set them for this phase. It must be in the workflow's stack, since both refer
   * to each other: give a function of a scope to build it there (a StepbatchStack exists only once
   * its props are given). The local stack runs it from the bundle CDK built, as it runs
   * stepbatch's own functions, when its code is a local asset (a NodejsFunction).
   * @default stepbatch builds the phase's function
   */
  readonly existingFunction?: lambda.Function | ((scope: Construct) => lambda.Function);
  /**
   * Called with the phase's function once it has stepbatch's grants: grant it what your code
   * needs, e.g. `(fn) => table.grantReadWriteData(fn)`. What it grants lands in the role's default
   * policy, next to X-Ray's `Resource: *`, which stepbatch acknowledges; give statements of your own
   * on a bare `*` as `policyStatements`, which cdk-nag checks apart.
   * @default no callback
   */
  readonly grant?: (fn: lambda.Function) => void;
  /**
   * Statements for the function's role, in a policy of their own attached to it. stepbatch
   * acknowledges no cdk-nag finding for them: a wildcard you write is reported in your app.
   * @default none
   */
  readonly policyStatements?: readonly iam.PolicyStatement[];
}

/** The function that runs one phase: a StepbatchFunction, or the one you gave (`existingFunction`). */
export interface PhaseFunction extends StorageGrantee, MonitoredFunction {
  readonly function: lambda.Function;
}

/** A phase function's memory when the pipeline does not say. */
const DEFAULT_PHASE_MEMORY_MB = 512;

export interface BatchWorkflowProps {
  readonly storage: BatchStorage;
  /** The pipeline: the phases each job runs in order; the last one commits and is fenced. */
  readonly pipeline: PipelineSource;
  /**
   * How often running phases read their batch's cancel signal (half a read unit each time).
   * @default Duration.seconds(1)
   */
  readonly cancelPollInterval?: Duration;
  /** Attempts after the first for a phase that throws, unless the pipeline says. @default 2 */
  readonly phaseRetries?: number;
  /** Longest a batch may run. @default Duration.hours(24) */
  readonly batchTimeout?: Duration;
  /** @default true */
  readonly deployAlarms?: boolean;
  /**
   * What each phase's function needs on AWS, keyed by phase name: function props, grants, policy
   * statements, or a function of your own. A name the pipeline does not have fails at synth.
   * @default the functions stepbatch builds, with the grants a phase needs
   */
  readonly phaseFunctions?: Readonly<Record<string, PhaseFunctionOptions>>;
}

/**
 * The batch state machine (STANDARD): a Map over the batch's jobs running each job's phases in
 * order (a cancelled job's iteration ends in "Job cancelled", a failed one's in "Job failed"),
 * then Finalize.
 */
export class BatchWorkflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  /** The functions that run the pipeline's phases, in order. */
  readonly phaseFunctions: readonly PhaseFunction[];
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
    this.stateEnvironment = {
      TABLE_NAME: storage.table.tableName,
      BUCKET_NAME: storage.bucket.bucketName,
      CANCEL_POLL_MS: String((props.cancelPollInterval ?? Duration.seconds(1)).toMilliseconds()),
      SUMMARY_FIELDS: JSON.stringify(pipeline.definition.summary?.fields ?? {}),
      // What a cancel saved is priced by each phase's memory.
      PIPELINE_PHASES: JSON.stringify(
        phases.map((phase) => ({
          name: phase.name,
          memoryMb:
            phase.memoryMb ??
            props.phaseFunctions?.[phase.name]?.functionProps?.memorySize ??
            DEFAULT_PHASE_MEMORY_MB,
        })),
      ),
    };
    validatePhases(phases, this.stateEnvironment);

    const options = props.phaseFunctions ?? {};
    validatePhaseFunctions(pipeline.definition.name, phases, options, this.stateEnvironment);

    this.phaseFunctions = phases.map((phase) => {
      const id = `${phase.name.replace(/\s/g, "")}Phase`;
      const { functionProps, existingFunction, grant, policyStatements } =
        options[phase.name] ?? {};
      const fn = existingFunction
        ? this.adoptFunction(phase.name, id, existingFunction)
        : new StepbatchFunction(this, id, {
            entry: generateEntry(pipeline, "phase", phase.name),
            description: `stepbatch ${pipeline.definition.name} pipeline: phase ${phase.name}`,
            timeout:
              phase.timeoutSeconds !== undefined
                ? Duration.seconds(phase.timeoutSeconds)
                : (functionProps?.timeout ?? Duration.seconds(300)),
            memorySize: phase.memoryMb ?? functionProps?.memorySize ?? DEFAULT_PHASE_MEMORY_MB,
            environment: { ...phase.environment, ...this.stateEnvironment },
            ...(functionProps ? { functionProps } : {}),
          });
      storage.grantStateWrite(fn);
      storage.grantResultsRead(fn, "results");
      storage.grantResultsWrite(fn, "results");
      if (policyStatements?.length) {
        // A policy apart from the role's default one: no acknowledgement of stepbatch's covers it.
        const role = fn.role;
        new iam.Policy(this, `${id}Policy`, { statements: [...policyStatements], roles: [role] });
      }
      grant?.(fn.function);
      return fn;
    });
    this.recordFailureFunction = new StepbatchFunction(this, "RecordFailure", {
      entry: "functions/handlers/tasks/record-job-failure.ts",
      description: "stepbatch: record a job whose phase kept failing",
      environment: this.stateEnvironment,
    });
    storage.grantStateWrite(this.recordFailureFunction);
    this.finalizeFunction = new StepbatchFunction(this, "Finalize", {
      entry: "functions/handlers/tasks/finalize.ts",
      description: "stepbatch: final batch status and consolidated results",
      timeout: Duration.minutes(5),
      environment: this.stateEnvironment,
    });
    storage.grantStateWrite(this.finalizeFunction);
    storage.grantResultsRead(this.finalizeFunction, "results");
    storage.grantResultsWrite(this.finalizeFunction, "manifests", "consolidated");

    const jobCancelled = new sfn.Succeed(this, "Job cancelled", {
      comment: "A cancel stopped the job: its later phases do not run; what it saved is kept",
    });
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

    // A job's iteration is its phases in order, one state each: a job that runs to its end costs
    // one transition per phase. A phase whose job was cancelled throws JobCancelled, caught into
    // "Job cancelled"; a job that already ended passes through its later phases, each a no-op.
    const tasksInOrder = phases.map((phase, i) => {
      const fn = this.phaseFunctions[i] as PhaseFunction;
      const task = new tasks.LambdaInvoke(this, phase.name, {
        lambdaFunction: fn.function,
        payload: sfn.TaskInput.fromObject({
          batchId: sfn.JsonPath.stringAt("$.batchId"),
          jobId: sfn.JsonPath.stringAt("$.jobId"),
          phase: phase.name,
          isFinal: i === phases.length - 1,
        }),
        resultPath: sfn.JsonPath.DISCARD,
        retryOnServiceExceptions: false,
        // A little past the Lambda's own timeout, so a hung invocation surfaces as States.Timeout.
        taskTimeout: sfn.Timeout.duration(
          Duration.seconds((fn.function.timeout ?? Duration.seconds(3)).toSeconds() + 30),
        ),
      });
      // A phase that stops for a cancel is never retried; a job whose input no longer fits is not
      // retried either; anything else is, with backoff.
      task.addRetry({ errors: [...NON_RETRYABLE_ERRORS], maxAttempts: 0 });
      task.addRetry({
        errors: [sfn.Errors.ALL],
        interval: Duration.seconds(1),
        backoffRate: 2,
        maxAttempts: phase.retries ?? props.phaseRetries ?? 2,
        jitterStrategy: sfn.JitterType.FULL,
      });
      task.addCatch(jobCancelled, {
        errors: [ERROR_NAMES.jobCancelled],
        resultPath: sfn.JsonPath.DISCARD,
      });
      task.addCatch(recordFailure, { errors: [sfn.Errors.ALL], resultPath: "$.failure" });
      return task;
    });
    const [first, ...rest] = tasksInOrder as [tasks.LambdaInvoke, ...tasks.LambdaInvoke[]];
    const next = rest.reduce<sfn.Chain>((chain, task) => chain.next(task), sfn.Chain.start(first));

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

  /** A function of the user's runs a phase: it gets the state environment here, grants after. */
  private adoptFunction(
    phase: string,
    id: string,
    existing: NonNullable<PhaseFunctionOptions["existingFunction"]>,
  ): PhaseFunction {
    const fn = typeof existing === "function" ? existing(new Construct(this, id)) : existing;
    if (Stack.of(fn) !== Stack.of(this)) {
      throw new Error(
        `phase '${phase}': existingFunction ${fn.node.path} is in stack ${Stack.of(fn).stackName}, not in ${Stack.of(this).stackName} with the workflow; the two would refer to each other (the state machine invokes it, it reads the workflow's table). Give existingFunction as (scope) => new lambda.Function(scope, ...) to build it there.`,
      );
    }
    const role = fn.role;
    if (!role) throw new Error(`phase '${phase}': existingFunction ${fn.node.path} has no role`);
    for (const [name, value] of Object.entries(this.stateEnvironment))
      fn.addEnvironment(name, value);
    return {
      function: fn,
      role,
      acknowledgeWildcardResource: (resource, reason) =>
        acknowledgeWildcardResource(role, resource, reason),
    };
  }
}

/**
 * Checks the phase function options against the pipeline, and fails with every conflict found,
 * each naming its phase and the settings that disagree.
 */
function validatePhaseFunctions(
  pipelineName: string,
  phases: readonly PipelinePhase[],
  options: Readonly<Record<string, PhaseFunctionOptions>>,
  stateEnvironment: Readonly<Record<string, string>>,
): void {
  const problems: string[] = [];
  const names = phases.map((phase) => phase.name);
  for (const name of Object.keys(options)) {
    if (!names.includes(name)) {
      problems.push(
        `phaseFunctions names phase '${name}', which pipeline ${pipelineName} does not have (its phases: ${names.join(", ")})`,
      );
    }
  }
  for (const phase of phases) {
    const { functionProps, existingFunction } = options[phase.name] ?? {};
    const at = `phase '${phase.name}'`;
    if (existingFunction) {
      if (functionProps) {
        problems.push(
          `${at}: existingFunction and functionProps cannot both be set (functionProps shape a function stepbatch builds; set them on your own function)`,
        );
      }
      const set = (["memoryMb", "timeoutSeconds", "environment"] as const).filter(
        (key) => phase[key] !== undefined,
      );
      if (set.length > 0) {
        problems.push(
          `${at} runs your existingFunction, but the pipeline sets its ${set.join(", ")}: set them on your function instead`,
        );
      }
    }
    if (!functionProps) continue;
    const owned = [
      ...STEPBATCH_OWNED_PROPS.function.filter((key) => functionProps[key] !== undefined),
      ...STEPBATCH_OWNED_PROPS.bundling
        .filter((key) => functionProps.bundling?.[key] !== undefined)
        .map((key) => `bundling.${key}`),
    ];
    if (owned.length > 0) {
      problems.push(
        `${at}: ${owned.map((key) => `functionProps.${key}`).join(", ")} stay stepbatch's (who the function runs as, what code it runs and where it logs); remove them, or give an existingFunction`,
      );
    }
    const { memorySize, timeout, environment = {} } = functionProps;
    if (memorySize !== undefined && phase.memoryMb !== undefined && memorySize !== phase.memoryMb) {
      problems.push(
        `${at}: functionProps.memorySize (${memorySize}) disagrees with the pipeline's memoryMb (${phase.memoryMb}); set one of them`,
      );
    }
    if (
      timeout !== undefined &&
      phase.timeoutSeconds !== undefined &&
      timeout.toMilliseconds() !== phase.timeoutSeconds * 1000
    ) {
      problems.push(
        `${at}: functionProps.timeout (${timeout.toHumanString()}) disagrees with the pipeline's timeoutSeconds (${phase.timeoutSeconds}); set one of them`,
      );
    }
    const stepbatchOwn = Object.keys(environment).filter((key) => key in stateEnvironment);
    if (stepbatchOwn.length > 0) {
      problems.push(
        `${at}: functionProps.environment sets ${stepbatchOwn.join(", ")}, which stepbatch sets itself`,
      );
    }
    const differing = Object.keys(environment).filter(
      (key) =>
        phase.environment?.[key] !== undefined && phase.environment[key] !== environment[key],
    );
    if (differing.length > 0) {
      problems.push(
        `${at}: functionProps.environment sets ${differing.join(", ")} to other values than the pipeline's environment`,
      );
    }
  }
  if (problems.length === 1) throw new Error(problems[0]);
  if (problems.length > 1) throw new Error(`phase functions:\n- ${problems.join("\n- ")}`);
}

function validatePhases(
  phases: readonly PipelinePhase[],
  stateEnvironment: Readonly<Record<string, string>>,
): void {
  if (phases.length === 0) throw new Error("BatchWorkflow needs at least one phase");
  // Construct ids drop the spaces: "Fetch A" and "FetchA" would be one function.
  const names = new Map<string, string>();
  for (const phase of phases) {
    if (!/^[A-Za-z][A-Za-z0-9 ]{0,40}$/.test(phase.name)) {
      throw new Error(
        `phase name '${phase.name}' must start with a letter and hold only letters, digits and spaces`,
      );
    }
    const key = phase.name.replace(/\s/g, "");
    const earlier = names.get(key);
    if (earlier === phase.name) throw new Error(`phase name '${phase.name}' is used twice`);
    if (earlier !== undefined)
      throw new Error(
        `phase names '${earlier}' and '${phase.name}' differ only by spaces; give them names that differ in letters or digits`,
      );
    names.set(key, phase.name);
    const own = Object.keys(phase.environment ?? {}).filter((name) => name in stateEnvironment);
    if (own.length > 0)
      throw new Error(
        `phase '${phase.name}': its environment sets ${own.join(", ")}, which stepbatch sets itself; give your variables other names`,
      );
  }
}
