import { Duration } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import type { ScheduleDefinition } from "../../functions/core/schedules.ts";
import { deadLetterQueue } from "../queues.ts";
import type { BatchStorage } from "./batch-storage.ts";
import { StepbatchFunction } from "./stepbatch-function.ts";

export interface BatchSchedulesProps {
  readonly schedules: readonly ScheduleDefinition[];
  /** The scheduled-submit function's entry, generated for the pipeline. */
  readonly submitEntry: string;
  readonly storage: BatchStorage;
  readonly stateMachine: sfn.IStateMachine;
  readonly stateEnvironment: Record<string, string>;
  /** Retries of one occurrence before it goes to the DLQ. @default 3 */
  readonly maximumRetryAttempts?: number;
  /** How long an occurrence may keep being retried. @default Duration.hours(1) */
  readonly maximumEventAge?: Duration;
}

/**
 * Scheduled batches: one EventBridge Scheduler schedule per configured batch, each invoking the
 * scheduled-submit Lambda (the same submit path, validation and records as POST /batches), with
 * retries and an SQS dead-letter queue for occurrences that could not be started.
 */
export class BatchSchedules extends Construct {
  readonly function: StepbatchFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly schedules: scheduler.CfnSchedule[] = [];

  constructor(scope: Construct, id: string, props: BatchSchedulesProps) {
    super(scope, id);
    this.function = new StepbatchFunction(this, "ScheduledSubmit", {
      entry: props.submitEntry,
      description: "stepbatch: start a scheduled batch",
      // As POST /batches: an Idempotency-Key claim older than 20 s is known to be abandoned.
      timeout: Duration.seconds(15),
      environment: {
        ...props.stateEnvironment,
        STATE_MACHINE_ARN: props.stateMachine.stateMachineArn,
      },
    });
    props.storage.grantStateWrite(this.function);
    props.stateMachine.grantStartExecution(this.function.function);

    this.deadLetterQueue = deadLetterQueue(this, "DeadLetters", "the batch schedules");

    const role = new iam.Role(this, "SchedulerRole", {
      assumedBy: new iam.ServicePrincipal("scheduler.amazonaws.com"),
      description:
        "stepbatch schedules: invoke the scheduled-submit Lambda, dead-letter what fails",
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ["lambda:InvokeFunction"],
        resources: [this.function.function.functionArn],
      }),
    );
    this.deadLetterQueue.grantSendMessages(role);

    for (const schedule of props.schedules) {
      this.schedules.push(
        new scheduler.CfnSchedule(this, `Schedule-${schedule.name}`, {
          name: `${scheduleNamePrefix(this)}-${schedule.name}`.slice(0, 64),
          description: schedule.description ?? `stepbatch scheduled batch ${schedule.name}`,
          scheduleExpression: schedule.expression,
          scheduleExpressionTimezone: schedule.timezone,
          state: schedule.enabled ? "ENABLED" : "DISABLED",
          flexibleTimeWindow: { mode: "OFF" },
          target: {
            arn: this.function.function.functionArn,
            roleArn: role.roleArn,
            input: JSON.stringify({
              scheduleName: schedule.name,
              scheduledTime: "<aws.scheduler.scheduled-time>",
              batch: schedule.batch,
            }),
            retryPolicy: {
              maximumRetryAttempts: props.maximumRetryAttempts ?? 3,
              maximumEventAgeInSeconds: (props.maximumEventAge ?? Duration.hours(1)).toSeconds(),
            },
            deadLetterConfig: { arn: this.deadLetterQueue.queueArn },
          },
        }),
      );
    }
  }
}

/** Schedule names are per account and region: prefix them with the stack's name. */
function scheduleNamePrefix(scope: Construct): string {
  const stackName = scope.node.scopes[1]?.node.id ?? "stepbatch";
  return stackName.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 30);
}
