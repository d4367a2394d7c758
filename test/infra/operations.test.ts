import { Match } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { synthStack } from "../helpers/synth.ts";

let synth: ReturnType<typeof synthStack>;
beforeAll(() => {
  synth = synthStack({
    schedules: [
      {
        name: "nightly",
        expression: "cron(0 2 * * ? *)",
        timezone: "America/Toronto",
        enabled: true,
        batch: { jobs: ["RY.TO"], concurrency: 2 },
      },
      {
        name: "paused",
        expression: "rate(1 day)",
        timezone: "UTC",
        enabled: false,
        batch: { jobs: ["A"] },
      },
    ],
  });
});

describe("scheduled batches", () => {
  it("deploys one EventBridge Scheduler schedule per configured batch, with its time zone, retries and a DLQ", () => {
    const schedules = Object.values(
      synth.template.findResources("AWS::Scheduler::Schedule"),
    ) as any[];
    expect(schedules).toHaveLength(2);
    const nightly = schedules.find((s) => s.Properties.Name.endsWith("-nightly")).Properties;
    expect(nightly).toMatchObject({
      ScheduleExpression: "cron(0 2 * * ? *)",
      ScheduleExpressionTimezone: "America/Toronto",
      State: "ENABLED",
      FlexibleTimeWindow: { Mode: "OFF" },
    });
    expect(nightly.Target.RetryPolicy).toEqual({
      MaximumRetryAttempts: 3,
      MaximumEventAgeInSeconds: 3600,
    });
    expect(nightly.Target.DeadLetterConfig.Arn).toEqual({
      "Fn::GetAtt": [expect.stringMatching(/^SchedulesDeadLetters/), "Arn"],
    });
    expect(JSON.parse(nightly.Target.Input)).toEqual({
      scheduleName: "nightly",
      scheduledTime: "<aws.scheduler.scheduled-time>",
      batch: { jobs: ["RY.TO"], concurrency: 2 },
    });
    expect(schedules.find((s) => s.Properties.Name.endsWith("-paused")).Properties.State).toBe(
      "DISABLED",
    );
  });

  it("lets the scheduler role invoke the scheduled-submit Lambda and nothing else", () => {
    const policies = Object.entries(synth.template.findResources("AWS::IAM::Policy")).filter(
      ([id]) => id.startsWith("SchedulesSchedulerRole"),
    );
    const actions = policies.flatMap(([, p]) =>
      (p as any).Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()),
    );
    expect(actions.sort()).toEqual(
      [
        "lambda:InvokeFunction",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
      ].sort(),
    );
  });
});

describe("the sweep of stranded batches", () => {
  it("runs every minute and may use the state table, start executions and ask how one stands", () => {
    // Prepare
    const rules = Object.values(
      synth.template.findResources("AWS::Events::Rule", {
        Properties: { ScheduleExpression: "rate(1 minute)" },
      }),
    );
    const policies = Object.entries(synth.template.findResources("AWS::IAM::Policy")).filter(
      ([id]) => id.startsWith("ReconcilerSweep"),
    );
    // Act
    const actions = policies.flatMap(([, p]) =>
      (p as any).Properties.PolicyDocument.Statement.flatMap((s: any) => [s.Action].flat()),
    );
    // Assess
    expect(rules).toHaveLength(1);
    expect(JSON.stringify(rules[0])).toMatch(/ReconcilerSweep/);
    expect(actions).toContain("states:StartExecution");
    expect(actions).toContain("states:DescribeExecution");
    expect(actions).not.toContain("states:StopExecution");
    // It reconciles (and may finalize) as the reconcile function does: it reads results and
    // writes manifests and consolidated copies, nothing else in S3.
    expect([...new Set(actions.filter((a: string) => a.startsWith("s3:")))].sort()).toEqual([
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
  });
});

describe("monitoring", () => {
  it("alarms on Lambda errors and throttles of every function group and on every dead-letter queue", () => {
    const alarms = Object.values(synth.template.findResources("AWS::CloudWatch::Alarm")) as any[];
    const descriptions = alarms.map((a) => a.Properties.AlarmDescription);
    expect(descriptions).toContain("stepbatch Phases functions: errors (cancelled jobs left out)");
    for (const group of ["Api", "Background"])
      expect(descriptions).toContain(`stepbatch ${group} functions: errors`);
    for (const group of ["Phases", "Api", "Background"]) {
      expect(descriptions).toContain(`stepbatch ${group} functions: throttles`);
    }
    expect(descriptions).toEqual(
      expect.arrayContaining([
        "A stepbatch batch execution failed",
        "A stepbatch batch execution timed out",
        "stepbatch status changes could not be reconciled and are waiting in the DLQ",
        "stepbatch: messages waiting in the Schedules dead-letter queue",
      ]),
    );
    const functions = Object.keys(synth.template.findResources("AWS::Lambda::Function")).length;
    const watched = alarms
      .filter((a) => /functions: errors/.test(a.Properties.AlarmDescription))
      .flatMap((a) => a.Properties.Metrics.filter((m: any) => m.MetricStat))
      .filter((m: any) => m.MetricStat.Metric.Namespace === "AWS/Lambda");
    expect(watched).toHaveLength(functions);
  });

  it("leaves the phases that ended a cancelled job out of the phase functions' errors alarm", () => {
    // Prepare
    const alarms = Object.values(synth.template.findResources("AWS::CloudWatch::Alarm")) as any[];

    // Act
    const phases = alarms.find(
      (a) =>
        a.Properties.AlarmDescription ===
        "stepbatch Phases functions: errors (cancelled jobs left out)",
    );
    const api = alarms.find(
      (a) => a.Properties.AlarmDescription === "stepbatch Api functions: errors",
    );

    // Assess
    const expressionOf = (alarm: any) =>
      alarm.Properties.Metrics.find((m: any) => m.Expression).Expression as string;
    expect(expressionOf(phases)).toMatch(/ - FILL\(cancels, 0\)$/);
    expect(phases.Properties.Metrics).toContainEqual(
      expect.objectContaining({
        Id: "cancels",
        MetricStat: expect.objectContaining({
          Metric: {
            Namespace: "stepbatch",
            MetricName: "PhaseEndedForCancel",
            Dimensions: [{ Name: "service", Value: "stepbatch" }],
          },
        }),
      }),
    );
    expect(expressionOf(api)).not.toMatch(/cancels/);
  });

  it("draws a dashboard", () => {
    synth.template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
    synth.template.hasResourceProperties("AWS::CloudWatch::Dashboard", {
      DashboardBody: Match.anyValue(),
    });
  });
});
