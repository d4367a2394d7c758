import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { tracer } from "./observability.ts";

/**
 * SDK clients, created once per function instance. Endpoints come only from the standard SDK
 * configuration (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>), so the same code reaches AWS,
 * LocalStack or the embedded local stack.
 */
export const dynamo = DynamoDBDocumentClient.from(
  tracer.captureAWSv3Client(new DynamoDBClient({})),
  {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  },
);
export const s3 = tracer.captureAWSv3Client(
  new S3Client({ forcePathStyle: process.env.S3_FORCE_PATH_STYLE === "true" }),
);
export const sfn = tracer.captureAWSv3Client(new SFNClient({}));
export const sqs = tracer.captureAWSv3Client(new SQSClient({}));
