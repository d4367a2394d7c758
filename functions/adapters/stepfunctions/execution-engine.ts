import {
  DescribeExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import type { ExecutionStatusChange } from "../../core/execution.ts";
import type { ExecutionEngine } from "../../core/ports.ts";

/** Batch executions on a Step Functions state machine. */
export class StepFunctionsEngine implements ExecutionEngine {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  /** Execution ARNs are derived from the state machine ARN and the execution name. */
  executionArnOf(name: string): string {
    return `${this.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
  }

  async startExecution(name: string, input: unknown): Promise<string> {
    try {
      const out = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return out.executionArn ?? this.executionArnOf(name);
    } catch (error) {
      // Names are batch ids: an execution of this name was started by an earlier attempt.
      if ((error as Error).name === "ExecutionAlreadyExists") return this.executionArnOf(name);
      throw error;
    }
  }

  async describeExecution(executionArn: string): Promise<ExecutionStatusChange | undefined> {
    try {
      const out = await this.client.send(new DescribeExecutionCommand({ executionArn }));
      return {
        executionArn,
        name: out.name ?? executionArn.split(":").at(-1) ?? "",
        status: out.status ?? "RUNNING",
        stopDate: out.stopDate ? out.stopDate.getTime() : null,
        error: out.error ?? null,
        cause: out.cause ?? null,
      };
    } catch (error) {
      if ((error as Error).name === "ExecutionDoesNotExist") return undefined;
      throw error;
    }
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
