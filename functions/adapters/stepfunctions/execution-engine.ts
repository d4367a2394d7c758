import {
  DescribeExecutionCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { BatchRecord, CancelIntent } from "../../core/model.ts";
import type { ReconcileRequests, WorkflowPort } from "../../core/ports.ts";
import type { ExecutionStatusChange } from "../../core/reconcile.ts";

/**
 * Sends the reconciler the status change a cancel causes (ABORTED, BatchCancelled), shaped as
 * EventBridge delivers it, straight to its queue: SQS delivery is guaranteed, EventBridge's is not.
 */
export class SqsReconcileRequests implements ReconcileRequests {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async requestReconcile(batch: BatchRecord, intent: CancelIntent): Promise<void> {
    const event = {
      version: "0",
      source: "stepbatch.cancel",
      "detail-type": "Step Functions Execution Status Change",
      time: new Date().toISOString(),
      resources: [batch.executionArn],
      detail: {
        executionArn: batch.executionArn,
        name: batch.batchId,
        status: "ABORTED",
        stopDate: Date.parse(intent.requestedAt),
        error: "BatchCancelled",
        cause: intent.reason,
      },
    };
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(event) }),
    );
  }
}

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
    try {
      const out = await this.client.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name,
          input: JSON.stringify(input),
        }),
      );
      return out.executionArn ?? this.executionArnFor(name);
    } catch (error) {
      // Names are batch ids: an execution of this name was started by an earlier attempt.
      if ((error as Error).name === "ExecutionAlreadyExists") return this.executionArnFor(name);
      throw error;
    }
  }

  async describeExecution(executionArn: string): Promise<ExecutionStatusChange | undefined> {
    try {
      const out = await this.client.send(new DescribeExecutionCommand({ executionArn }));
      return {
        executionArn,
        name: out.name ?? executionArn.split(":").at(-1) ?? "",
        status: (out.status ?? "RUNNING") as ExecutionStatusChange["status"],
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
