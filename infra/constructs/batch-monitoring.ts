import { Duration } from "aws-cdk-lib";
import type * as apigateway from "aws-cdk-lib/aws-apigateway";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { JOB_CANCELLED_METRIC } from "../../functions/core/errors.ts";
import { alarmOnAny } from "../alarms.ts";

/** A function the alarms and the dashboard watch: a StepbatchFunction, or a phase's own function. */
export interface MonitoredFunction {
  readonly function: lambda.IFunction;
}

export interface BatchMonitoringProps {
  readonly stateMachine: sfn.StateMachine;
  readonly api: apigateway.RestApi;
  /** Functions by group; one errors alarm and one throttles alarm per group (9 functions at most). */
  readonly functionGroups: Readonly<Record<string, readonly MonitoredFunction[]>>;
  /**
   * The group whose functions run phases: a phase that ends its job for a cancel throws
   * JobCancelled, which Lambda counts as an error; that group's errors alarm subtracts those.
   * @default no group
   */
  readonly phaseGroup?: string;
  /** Queues whose depth means something was not delivered. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  /** @default a name CloudFormation generates (two stacks can share an account) */
  readonly dashboardName?: string;
}

/**
 * Alarms for what loses work silently (Lambda errors and throttles, dead letters) and a dashboard
 * of batches, phases, API and queues. Failed and timed-out executions are alarmed by the workflow.
 */
export class BatchMonitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: BatchMonitoringProps) {
    super(scope, id);
    const period = Duration.minutes(5);

    // An alarm's metric math takes 10 metrics at most: 9 functions and the cancels subtracted.
    const size = 9;
    const chunks = Object.entries(props.functionGroups).flatMap(([group, functions]) =>
      Array.from(
        { length: Math.ceil(functions.length / size) },
        (_, i) =>
          [
            group,
            i === 0 ? group : `${group}${i + 1}`,
            functions.slice(i * size, i * size + size),
          ] as const,
      ),
    );
    const cancelEnds = new cloudwatch.Metric({
      namespace: "stepbatch",
      metricName: JOB_CANCELLED_METRIC,
      dimensionsMap: { service: "stepbatch" },
      statistic: "Sum",
      period,
    });
    for (const [group, name, functions] of chunks) {
      for (const [metricName, what] of [
        ["Errors", "errors"],
        ["Throttles", "throttles"],
      ] as const) {
        // Cancels are counted across all phases: with more than 9 phase functions, a cancel in one
        // chunk may hide an error in another within the same 5 minutes.
        const lessCancels = metricName === "Errors" && group === props.phaseGroup;
        const sum = new cloudwatch.MathExpression({
          expression: `${functions.map((_, i) => `m${i}`).join(" + ")}${lessCancels ? " - FILL(cancels, 0)" : ""}`,
          usingMetrics: Object.fromEntries([
            ...functions.map((fn, i) => [
              `m${i}`,
              fn.function.metric(metricName, { statistic: "Sum", period }),
            ]),
            ...(lessCancels ? [["cancels", cancelEnds]] : []),
          ]),
          label: `${group} ${what}`,
          period,
        });
        this.alarms.push(
          alarmOnAny(
            this,
            `${name}${metricName}`,
            sum,
            `stepbatch ${name} functions: ${what}${lessCancels ? " (cancelled jobs left out)" : ""}`,
          ),
        );
      }
    }
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.alarms.push(
        alarmOnAny(
          this,
          `${name}DeadLetters`,
          queue.metricApproximateNumberOfMessagesVisible({ period }),
          `stepbatch: messages waiting in the ${name} dead-letter queue`,
        ),
      );
    }

    const sm = props.stateMachine;
    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      ...(props.dashboardName ? { dashboardName: props.dashboardName } : {}),
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: "Batches (executions)",
            width: 12,
            left: [
              sm.metricStarted(),
              sm.metricSucceeded(),
              sm.metricFailed(),
              sm.metricAborted(),
              sm.metricTimedOut(),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: "API",
            width: 12,
            left: [
              props.api.metricCount(),
              props.api.metricClientError(),
              props.api.metricServerError(),
            ],
            right: [props.api.metricLatency({ statistic: "p95" })],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: "Lambda errors and throttles",
            width: 12,
            left: Object.values(props.functionGroups)
              .flat()
              .map((fn) => fn.function.metricErrors({ period })),
            right: Object.values(props.functionGroups)
              .flat()
              .map((fn) => fn.function.metricThrottles({ period })),
          }),
          new cloudwatch.GraphWidget({
            title: "Phase duration (p95)",
            width: 12,
            left: (props.functionGroups.Phases ?? []).map((fn) =>
              fn.function.metricDuration({ statistic: "p95", period }),
            ),
          }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: "Alarms", width: 24, alarms: this.alarms })],
      ],
    });
  }
}
