import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { StepbatchStack, type StepbatchStackProps } from "../../infra/stepbatch-stack.ts";

/**
 * Synthesizes the stack as `cdk synth` does, but without bundling the Lambda code (not needed to
 * check intent), so infra tests stay fast.
 */
export function synthStack(props: StepbatchStackProps = {}) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new StepbatchStack(app, "StepbatchTest", {
    env: { account: "123456789012", region: "us-east-1" },
    ...props,
  });
  return { app, stack, template: Template.fromStack(stack) };
}

/** The state machine definition with CloudFormation tokens replaced by placeholders. */
export function stateMachineDefinition(template: Template): {
  States: Record<string, any>;
  StartAt: string;
} {
  const machines = template.findResources("AWS::StepFunctions::StateMachine");
  const machine = Object.values(machines)[0] as { Properties: { DefinitionString: unknown } };
  const definition = machine.Properties.DefinitionString as
    | { "Fn::Join": [string, unknown[]] }
    | string;
  const text =
    typeof definition === "string"
      ? definition
      : definition["Fn::Join"][1]
          .map((part) => (typeof part === "string" ? part : "TOKEN"))
          .join("");
  return JSON.parse(text);
}
