import { Duration } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import {
  ENDED_EXECUTION_STATUSES,
  STATUS_CHANGE_DETAIL_TYPE,
} from "../../functions/core/execution.ts";
import { alarmOnAny } from "../alarms.ts";
import { executionArnPattern } from "../executions.ts";
import { deadLetterQueue } from "../queues.ts";
import type { BatchStorage } from "./batch-storage.ts";
import { StepbatchFunction } from "./stepbatch-function.ts";

export interface BatchReconcilerProps {
  readonly storage: BatchStorage;
  readonly stateMachine: sfn.IStateMachine;
  readonly stateEnvironment: Record<string, string>;
  /** Receives before a status change goes to the DLQ. @default 5 */
  readonly maxReceiveCount?: number;
  /** @default true */
  readonly deployAlarms?: boolean;
  /** How often the sweep repairs what a crash left half-done. @default 1 minute */
  readonly sweepInterval?: Duration;
  /**
   * The sweep looks at a batch still queued, or cancelling, this long after it was created.
   * Starting an execution twice is harmless (StartExecution is idempotent by name), so this only
   * keeps the sweep off batches a submit is still starting.
   * @default 10 seconds
   */
  readonly strandedAfter?: Duration;
}

/**
 * Execution status changes (EventBridge) -> SQS queue (+DLQ) -> reconcile Lambda, which ends every
 * batch and job record consistently however the execution ended: the console's Stop, a failure,
 * a timeout. EventBridge delivery is best effort; the reconciler tolerates duplicates and gaps.
 */
export class BatchReconciler extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly rule: events.Rule;
  readonly function: StepbatchFunction;
  /** Starts batches whose submit stopped between recording them and starting their execution. */
  readonly sweepFunction: StepbatchFunction;
  readonly sweepRule: events.Rule;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: BatchReconcilerProps) {
    super(scope, id);
    this.deadLetterQueue = deadLetterQueue(this, "DeadLetters", "the status-change queue");
    this.queue = new sqs.Queue(this, "StatusChanges", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.minutes(6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
    this.rule = new events.Rule(this, "ExecutionEnded", {
      description: "stepbatch: batch executions that ended, for the reconciler",
      eventPattern: {
        source: ["aws.states"],
        detailType: [STATUS_CHANGE_DETAIL_TYPE],
        detail: {
          stateMachineArn: [props.stateMachine.stateMachineArn],
          status: [...ENDED_EXECUTION_STATUSES],
        },
      },
    });
    this.rule.addTarget(new targets.SqsQueue(this.queue));

    this.function = new StepbatchFunction(this, "Reconcile", {
      entry: "functions/handlers/tasks/reconcile.ts",
      description: "stepbatch: reconcile batch and job records after an execution ended",
      timeout: Duration.minutes(1),
      environment: props.stateEnvironment,
    });
    props.storage.grantStateWrite(this.function);
    props.storage.grantResultsRead(this.function, "results");
    props.storage.grantResultsWrite(this.function, "manifests", "consolidated");
    this.function.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }),
    );

    this.sweepFunction = new StepbatchFunction(this, "Sweep", {
      entry: "functions/handlers/tasks/sweep.ts",
      description: "stepbatch: start batches never started, reconcile cancels cut short",
      timeout: Duration.minutes(1),
      environment: {
        ...props.stateEnvironment,
        STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
        STRANDED_AFTER_MS: String((props.strandedAfter ?? Duration.seconds(10)).toMilliseconds()),
      },
    });
    // It reconciles as the reconcile function does, so it may write what that one writes.
    props.storage.grantStateWrite(this.sweepFunction);
    props.storage.grantResultsRead(this.sweepFunction, "results");
    props.storage.grantResultsWrite(this.sweepFunction, "manifests", "consolidated");
    props.stateMachine.grantStartExecution(this.sweepFunction.function);
    props.stateMachine.grantExecution(this.sweepFunction.function, "states:DescribeExecution");
    this.sweepFunction.acknowledgeWildcardResource(
      executionArnPattern(props.stateMachine),
      "The sweep asks how a stranded batch's execution stands; execution names are batch ids.",
    );
    this.sweepRule = new events.Rule(this, "SweepSchedule", {
      description: "stepbatch: start batches never started, reconcile cancels cut short",
      schedule: events.Schedule.rate(props.sweepInterval ?? Duration.minutes(1)),
    });
    this.sweepRule.addTarget(new targets.LambdaFunction(this.sweepFunction.function));

    if (props.deployAlarms ?? true) {
      this.alarms.push(
        alarmOnAny(
          this,
          "DeadLettersWaiting",
          this.deadLetterQueue.metricApproximateNumberOfMessagesVisible(),
          "stepbatch status changes could not be reconciled and are waiting in the DLQ",
        ),
      );
    }
  }
}
