import { createHash, randomUUID } from "node:crypto";
import type { LocalLambdaRuntime } from "./lambda-runtime.ts";
import type { StatusChangeEvent } from "./stepfunctions.ts";
import type { StatusChangeConsumer } from "./template.ts";

export interface DeadLetter {
  readonly queueArn: string;
  readonly body: string;
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
    /** Before the first receive: EventBridge and SQS-to-Lambda delivery take a moment on AWS too. */
    private readonly deliveryDelayMs = 500,
  ) {}

  /** An EventBridge event: to every consumer whose rule matches it. */
  publish = (event: StatusChangeEvent): void => {
    for (const consumer of this.consumers) {
      if (matchesPattern(consumer.pattern, event))
        this.track(this.deliver(consumer, JSON.stringify(event), event.region));
    }
  };

  /** An SQS SendMessage: to the consumer of that queue. False when no consumer reads it. */
  send(queueArn: string, body: string): boolean {
    const consumer = this.consumers.find((c) => c.queueArn === queueArn);
    if (!consumer) return false;
    this.track(this.deliver(consumer, body, "us-east-1"));
    return true;
  }

  private track(delivery: Promise<void>): void {
    this.pending.add(delivery);
    void delivery.finally(() => this.pending.delete(delivery));
  }

  /** Waits until every event published so far has been handled (or dead-lettered). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private async deliver(
    consumer: StatusChangeConsumer,
    body: string,
    region: string,
  ): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.deliveryDelayMs));
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
            awsRegion: region,
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
    this.deadLetters.push({ queueArn: consumer.queueArn, body, error: lastError });
    this.log(
      `a message for ${consumer.queueArn.split(":").pop()} went to the dead-letter queue: ${lastError}`,
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
