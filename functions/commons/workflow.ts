import { type SFNClient, StartExecutionCommand, StopExecutionCommand } from "@aws-sdk/client-sfn";
import type { WorkflowPort } from "../domain/ports";

/** The Step Functions side of the domain's WorkflowPort. */
export class StepFunctionsWorkflow implements WorkflowPort {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  /** Execution ARNs are derived from the state machine ARN and the execution name. */
  executionArnFor = (name: string): string =>
    `${this.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;

  async startExecution(name: string, input: unknown): Promise<string> {
    const out = await this.client.send(
      new StartExecutionCommand({
        stateMachineArn: this.stateMachineArn,
        name,
        input: JSON.stringify(input),
      }),
    );
    return out.executionArn ?? this.executionArnFor(name);
  }

  async stopExecution(executionArn: string, error: string, cause: string): Promise<void> {
    try {
      await this.client.send(
        new StopExecutionCommand({ executionArn, error, cause: cause.slice(0, 32_000) }),
      );
    } catch (err) {
      // Already ended or never started: the intent and the job records still stop everything.
      if ((err as Error).name === "ExecutionDoesNotExist") return;
      throw err;
    }
  }
}
