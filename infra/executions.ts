import { ArnFormat, Stack } from "aws-cdk-lib";
import type * as sfn from "aws-cdk-lib/aws-stepfunctions";

/** The ARN pattern `grantExecution` uses for a state machine's executions (names are batch ids). */
export function executionArnPattern(stateMachine: sfn.IStateMachine): string {
  const stack = Stack.of(stateMachine);
  return stack.formatArn({
    service: "states",
    resource: "execution",
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    resourceName: `${stack.splitArn(stateMachine.stateMachineArn, ArnFormat.COLON_RESOURCE_NAME).resourceName}:*`,
  });
}
