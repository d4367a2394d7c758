import { Duration } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { EVENT_SOURCE, QUIESCED_DETAIL_TYPE } from "../../functions/core/quiesce.ts";
import { alarmOnAny } from "../alarms.ts";
import { deadLetterQueue } from "../queues.ts";
import type { BatchStorage } from "./batch-storage.ts";
import { StepbatchFunction } from "./stepbatch-function.ts";

export interface BatchNotificationsProps {
  readonly storage: BatchStorage;
  readonly stateEnvironment: Record<string, string>;
  /** The bus a batch's events are published on. @default the account's default bus */
  readonly eventBus?: events.IEventBus;
  /** @default true */
  readonly deployAlarms?: boolean;
}

/**
 * A batch's events on EventBridge (source `stepbatch`): "Batch Quiesced" once a cancelled batch's
 * last phase has stopped. A rule sends it to the webhook function, which posts it, signed, to the
 * webhook the batch was given at submit. Your own rules can match the same events.
 */
export class BatchNotifications extends Construct {
  readonly eventBus: events.IEventBus;
  readonly quiescedRule: events.Rule;
  readonly webhookFunction: StepbatchFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: BatchNotificationsProps) {
    super(scope, id);
    this.eventBus =
      props.eventBus ?? events.EventBus.fromEventBusName(this, "DefaultBus", "default");
    this.webhookFunction = new StepbatchFunction(this, "Webhook", {
      entry: "functions/handlers/tasks/notify-webhook.ts",
      description: "stepbatch: post a batch's notices to its webhook, signed",
      // Five attempts with a 10 s limit each, and backoff between them.
      timeout: Duration.seconds(90),
      environment: { ...props.stateEnvironment, EVENT_BUS_NAME: this.eventBus.eventBusName },
    });
    props.storage.grantStateWrite(this.webhookFunction);
    this.deadLetterQueue = deadLetterQueue(this, "DeadLetters", "the webhook notices");
    this.quiescedRule = new events.Rule(this, "BatchQuiesced", {
      description: "stepbatch: a cancelled batch has quiesced; post it to the batch's webhook",
      eventBus: this.eventBus,
      eventPattern: { source: [EVENT_SOURCE], detailType: [QUIESCED_DETAIL_TYPE] },
    });
    this.quiescedRule.addTarget(
      new targets.LambdaFunction(this.webhookFunction.function, {
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
        deadLetterQueue: this.deadLetterQueue,
      }),
    );
    if (props.deployAlarms ?? true)
      this.alarms.push(
        alarmOnAny(
          this,
          "WebhookNoticesUndelivered",
          this.deadLetterQueue.metricApproximateNumberOfMessagesVisible(),
          "stepbatch notices could not be handed to the webhook function",
        ),
      );
  }

  /** Lets a function publish a batch's events (the phases, finalize and the reconciler do). */
  grantPublish(fn: { readonly function: lambda.Function }): void {
    this.eventBus.grantPutEventsTo(fn.function);
    fn.function.addEnvironment("EVENT_BUS_NAME", this.eventBus.eventBusName);
  }
}
