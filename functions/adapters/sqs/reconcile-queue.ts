import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { cancelledExecution, STATUS_CHANGE_DETAIL_TYPE } from "../../core/execution.ts";
import type { BatchRecord, CancelIntent } from "../../core/model.ts";
import type { ReconcileQueue } from "../../core/ports.ts";

/**
 * Sends the reconciler the status change a cancel causes, shaped as EventBridge delivers it,
 * straight to its queue: SQS delivery is guaranteed, EventBridge's is not.
 */
export class SqsReconcileQueue implements ReconcileQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async requestReconcile(batch: BatchRecord, intent: CancelIntent): Promise<void> {
    const event = {
      version: "0",
      source: "stepbatch.cancel",
      "detail-type": STATUS_CHANGE_DETAIL_TYPE,
      time: new Date().toISOString(),
      resources: [batch.executionArn],
      detail: cancelledExecution(batch, intent),
    };
    await this.client.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(event) }),
    );
  }
}
