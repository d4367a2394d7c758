import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import dynalite from "dynalite";
import S3rver from "s3rver";

/** s3rver accepts only these fixed credentials; dynalite accepts any. They are not secrets. */
export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
export const LOCAL_REGION = "us-east-1";

export interface RunningService {
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Sees every request an emulator receives (for the benchmark's request counts). */
export type RequestObserver = (request: import("node:http").IncomingMessage) => void;

/** DynamoDB on dynalite: in memory, or kept under `dataDir`. */
export async function startDynamo(
  options: { port?: number; dataDir?: string; observe?: RequestObserver } = {},
): Promise<RunningService> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.dataDir ? { path: options.dataDir } : {}),
  });
  if (options.observe) server.on("request", options.observe);
  await listen(server, options.port ?? 0, "DynamoDB (dynalite)");
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Where s3rver keeps the objects of a stack that keeps nothing: shared memory (/dev/shm) when the
 * machine has it, since s3rver writes, renames and stats a file per object and most of a batch's
 * objects are small; else the temporary folder.
 */
function scratchRoot(): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

/** S3 on s3rver: kept under `dataDir`, or in a temporary folder (in memory) removed on close. */
export async function startS3(
  options: { port?: number; dataDir?: string; observe?: RequestObserver } = {},
): Promise<RunningService> {
  const directory = options.dataDir ?? mkdtempSync(join(scratchRoot(), "stepbatch-s3-"));
  mkdirSync(directory, { recursive: true });
  const server = new S3rver({
    port: options.port ?? 0,
    address: "127.0.0.1",
    silent: true,
    directory,
  });
  let address: AddressInfo;
  try {
    address = (await server.run()) as AddressInfo;
  } catch (error) {
    throw portError(error, options.port ?? 0, "S3 (s3rver)");
  }
  if (options.observe) server.httpServer?.on("request", options.observe);
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    close: async () => {
      await server.close();
      if (!options.dataDir) rmSync(directory, { recursive: true, force: true });
    },
  };
}

export const dynamoClient = (endpoint: string) =>
  new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });

export const s3Client = (endpoint: string) =>
  new S3Client({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
  });

/**
 * Creates a table as the template defines it (keys, indexes, billing), and turns its TTL on, if it
 * is missing. A table kept from an earlier start is used as it is.
 */
export async function provisionTable(
  client: DynamoDBClient,
  definition: CreateTableCommandInput,
  options: { timeToLiveAttribute?: string } = {},
): Promise<void> {
  try {
    await client.send(new CreateTableCommand(definition));
    if (options.timeToLiveAttribute)
      await client
        .send(
          new UpdateTimeToLiveCommand({
            TableName: definition.TableName,
            TimeToLiveSpecification: { AttributeName: options.timeToLiveAttribute, Enabled: true },
          }),
        )
        .catch(() => undefined); // dynalite may not implement TTL; expiry is not needed locally
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await client.send(new DescribeTableCommand({ TableName: definition.TableName }));
}

export async function provisionBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = (error as Error).name;
    if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw error;
  }
}

/** Listens on 127.0.0.1:`port` (0: a free one), naming `what` when the port is taken. */
export function listen(
  server: import("node:net").Server,
  port: number,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (error) => reject(portError(error, port, what)));
    server.listen(port, "127.0.0.1", () => resolve());
  });
}

function portError(error: unknown, port: number, what: string): Error {
  if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
    return new Error(`${what} cannot listen on 127.0.0.1:${port}: the port is already in use`);
  }
  return error as Error;
}
