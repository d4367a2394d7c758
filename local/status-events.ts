import { createHash, randomUUID } from "node:crypto";
import type { LocalLambdaRuntime } from "./lambda-runtime";
import type { StatusChangeEvent } from "./stepfunctions";
import type { StatusChangeConsumer } from "./template";

export interface DeadLetter {
  readonly queueArn: string;
  readonly event: StatusChangeEvent;
  readonly error: string;
}

/**
 * Delivers execution status changes as AWS does: the EventBridge rule's pattern picks them, the
 * SQS queue hands them to the consumer Lambda as an SQS event, a failed record is received again
 * (with backoff) and, after `maxReceiveCount` receives, goes to the dead letters.
 */
export class StatusEventDelivery {
  readonly deadLetters: DeadLetter[] = [];
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly consumers: readonly StatusChangeConsumer[],
    private readonly runtime: LocalLambdaRuntime,
    private readonly log: (message: string) => void = () => undefined,
    private readonly retryBaseMs = 500,
  ) {}

  publish = (event: StatusChangeEvent): void => {
    for (const consumer of this.consumers) {
      if (!matchesPattern(consumer.pattern, event)) continue;
      const delivery = this.deliver(consumer, event);
      this.pending.add(delivery);
      void delivery.finally(() => this.pending.delete(delivery));
    }
  };

  /** Waits until every event published so far has been handled (or dead-lettered). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async deliver(consumer: StatusChangeConsumer, event: StatusChangeEvent): Promise<void> {
    const body = JSON.stringify(event);
    const messageId = randomUUID();
    let lastError = "";
    for (let receive = 1; receive <= consumer.maxReceiveCount; receive++) {
      const sqsEvent = {
        Records: [
          {
            messageId,
            receiptHandle: `${messageId}#${receive}`,
            body,
            attributes: {
              ApproximateReceiveCount: String(receive),
              SentTimestamp: String(Date.now()),
            },
            messageAttributes: {},
            md5OfBody: createHash("md5").update(body).digest("hex"),
            eventSource: "aws:sqs",
            eventSourceARN: consumer.queueArn,
            awsRegion: event.region,
          },
        ],
      };
      try {
        const answer = (await this.runtime.invoke(consumer.functionArn, sqsEvent)) as
          | { batchItemFailures?: unknown[] }
          | undefined;
        if (!answer?.batchItemFailures?.length) return;
        lastError = "the consumer reported the record as failed";
      } catch (error) {
        lastError = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, this.retryBaseMs * receive));
    }
    this.deadLetters.push({ queueArn: consumer.queueArn, event, error: lastError });
    this.log(
      `status change for ${event.detail.name} (${event.detail.status}) went to the dead-letter queue: ${lastError}`,
    );
  }
}

/** EventBridge matching for the subset rules use here: literal value lists and nested objects. */
export function matchesPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  if (!event || typeof event !== "object") return false;
  const record = event as Record<string, unknown>;
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = record[key];
    if (Array.isArray(expected)) return expected.includes(actual as never);
    if (expected && typeof expected === "object")
      return matchesPattern(expected as Record<string, unknown>, actual);
    return expected === actual;
  });
}
