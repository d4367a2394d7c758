import { Duration } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { acknowledge } from "./nag.ts";

/** An encrypted, TLS-only dead-letter queue that keeps messages 14 days. */
export function deadLetterQueue(scope: Construct, id: string, deadLettersOf: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  acknowledge(
    queue,
    "AwsSolutions-SQS3",
    `This queue is the dead-letter queue of ${deadLettersOf}.`,
  );
  return queue;
}
