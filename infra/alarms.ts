import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type { Construct } from "constructs";

/** An alarm that fires as soon as the metric reaches `threshold` in a five-minute period. */
export function alarmOnAny(
  scope: Construct,
  id: string,
  metric: cloudwatch.IMetric,
  description: string,
  threshold = 1,
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    metric:
      metric instanceof cloudwatch.Metric ? metric.with({ period: Duration.minutes(5) }) : metric,
    threshold,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    alarmDescription: description,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}
