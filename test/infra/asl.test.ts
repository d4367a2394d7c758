import validator from "asl-validator";
import { App } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { StepbatchStack, type StepbatchStackProps } from "../../infra/stepbatch-stack.ts";
import { readAppModel } from "../../local/template.ts";

/** The state machine's definition as deployed: synthesized, every reference resolved (locally). */
function definitionOf(props: StepbatchStackProps = {}) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new StepbatchStack(app, "Stepbatch", props);
  const template = app.synth().getStackArtifact(stack.artifactId).template;
  return readAppModel(template).stateMachine.definition;
}

describe("the synthesized state machine, checked against the States Language specification", () => {
  it.each([
    ["the demo pipeline", {}],
    ["the stock digest pipeline", { config: "pipelines/stock-digest/stepbatch.config.ts" }],
  ])("is valid for %s, paths and resource ARNs included", (_, props) => {
    // Act
    const { isValid, errors } = validator(definitionOf(props), {
      checkPaths: true,
      checkArn: true,
    });
    // Assess: the errors first, so a failure names them
    expect(errors.map((error) => JSON.stringify(error))).toEqual([]);
    expect(isValid).toBe(true);
  });

  it("is refused when it is not, so the check can fail", () => {
    // Prepare: a state that goes nowhere, and a Task without a resource
    const definition = definitionOf();
    const [first] = Object.keys(definition.States);
    definition.States[first as string] = { Type: "Task", Next: "Nowhere" };
    // Act
    const { isValid, errors } = validator(definition, { checkPaths: true, checkArn: true });
    // Assess
    expect(isValid).toBe(false);
    expect(errors.length).toBeGreaterThan(0);
  });
});
