import { Stack, Validations } from "aws-cdk-lib";
import { flattenCfnReference } from "cdk-nag/lib/utils/flatten-cfn-reference.js";
import type { IConstruct } from "constructs";

/**
 * cdk-nag acknowledgements. Each one names one finding on one construct (and its children) and
 * says why it is accepted; nothing is acknowledged stack-wide.
 */
export function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** Acknowledges the IAM5 wildcard finding for one granted resource ARN, computed as cdk-nag names it. */
export function acknowledgeWildcardResource(
  scope: IConstruct,
  resource: string,
  reason: string,
): void {
  const flat = flattenCfnReference(Stack.of(scope).resolve(resource));
  acknowledge(scope, `AwsSolutions-IAM5[Resource::${flat}]`, reason);
}

export const XRAY_REASON =
  "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions.";
