import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { logger, tracer } from "./observability.ts";

// The HTTP handler's warnings (a socket pool at capacity, a slow request) go to the function's
// structured log, at WARN, instead of straight to stderr. (Not the client's own `logger`: it
// would log every call's input and output at INFO.)
const sdk = { requestHandler: { logger } };

/**
 * SDK clients, created once per function instance. Endpoints come only from the standard SDK
 * configuration (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>), so the same code reaches AWS,
 * LocalStack or the embedded local stack.
 */
export const dynamo = DynamoDBDocumentClient.from(
  tracer.captureAWSv3Client(new DynamoDBClient({ ...sdk })),
  {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true },
  },
);
export const s3 = tracer.captureAWSv3Client(
  new S3Client({ ...sdk, forcePathStyle: process.env.S3_FORCE_PATH_STYLE === "true" }),
);
export const sfn = tracer.captureAWSv3Client(new SFNClient({ ...sdk }));
export const sqs = tracer.captureAWSv3Client(new SQSClient({ ...sdk }));
export const events = tracer.captureAWSv3Client(new EventBridgeClient({ ...sdk }));
