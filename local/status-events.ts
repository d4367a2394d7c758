import { createHash, randomUUID } from "node:crypto";
import type { LocalLambdaRuntime } from "./lambda-runtime.ts";
import type { StatusChangeEvent } from "./stepfunctions.ts";
import type { LocalEventRule, LocalQueue } from "./template.ts";

export interface DeadLetter {
  readonly queueArn: string;
  readonly body: string;
  readonly error: string;
}

/**
 * EventBridge and SQS as the template wires them. An event (an execution status change) goes to
 * every rule whose pattern matches it, and on to the rule's targets: a Lambda is invoked with it;
 * a queue hands it to the functions its event source mappings feed, as an SQS event, a failed
 * record is received again (with backoff) and, after the queue's `maxReceiveCount` receives, goes
 * to the dead letters. A message sent to a queue no function reads is kept in `unread`.
 */
export class StatusEventDelivery {
  readonly deadLetters: DeadLetter[] = [];
  readonly unread: { readonly queueArn: string; readonly body: string }[] = [];
  /** The events published so far, newest last (the last 1,000): what a test or a developer reads. */
  readonly published: Record<string, unknown>[] = [];
  private readonly pending = new Set<Promise<void>>();
  private sent = 0;

  constructor(
    private readonly rules: readonly LocalEventRule[],
    private readonly queues: readonly LocalQueue[],
    private readonly runtime: LocalLambdaRuntime,
    private readonly log: (message: string) => void = () => undefined,
    private readonly retryBaseMs = 500,
    /** Before the first receive: EventBridge and SQS-to-Lambda delivery take a moment on AWS too. */
    private readonly deliveryDelayMs = 500,
  ) {}

  /** An EventBridge event: to the targets of every rule whose pattern matches it. */
  publish = (event: StatusChangeEvent | Record<string, unknown>): void => {
    this.published.push(event as Record<string, unknown>);
    if (this.published.length > 1000) this.published.shift();
    for (const rule of this.rules) {
      if (!matchesPattern(rule.pattern, event)) continue;
      for (const queueArn of rule.queueArns) this.send(queueArn, JSON.stringify(event));
      for (const functionArn of rule.functionArns)
        this.track(
          this.runtime.invoke(functionArn, event).then(
            () => undefined,
            (error: Error) =>
              this.log(`rule ${rule.arn} -> ${functionArn} failed: ${error.message}`),
          ),
        );
    }
  };

  /** An SQS SendMessage: to the functions that read that queue. False when there is no such queue. */
  send(queueArn: string, body: string): boolean {
    const queue = this.queues.find((q) => q.arn === queueArn);
    if (!queue) return false;
    if (queue.consumerArns.length === 0) {
      this.unread.push({ queueArn, body });
      return true;
    }
    // One receive per message: with several consumers, each message goes to one of them.
    const consumer = queue.consumerArns[this.sent++ % queue.consumerArns.length] as string;
    this.track(this.deliver(queue, consumer, body));
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

  private async deliver(queue: LocalQueue, functionArn: string, body: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.deliveryDelayMs));
    const messageId = randomUUID();
    let lastError = "";
    for (let receive = 1; receive <= queue.maxReceiveCount; receive++) {
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
            eventSourceARN: queue.arn,
            awsRegion: queue.arn.split(":")[3] ?? "us-east-1",
          },
        ],
      };
      try {
        const answer = (await this.runtime.invoke(functionArn, sqsEvent)) as
          | { batchItemFailures?: unknown[] }
          | undefined;
        if (!answer?.batchItemFailures?.length) return;
        lastError = "the consumer reported the record as failed";
      } catch (error) {
        lastError = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, this.retryBaseMs * receive));
    }
    this.deadLetters.push({ queueArn: queue.arn, body, error: lastError });
    this.log(`a message for ${queue.name} went to the dead-letter queue: ${lastError}`);
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
