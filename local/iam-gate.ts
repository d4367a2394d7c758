import {
  Agent,
  createServer,
  request as forward,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from "node:http";
import type { AddressInfo } from "node:net";
import { listen, type RunningService } from "./emulators.ts";
import { AccessDenied, type Authorization, type LocalIam } from "./iam.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./template.ts";

/** A request as the gate sees it: enough to tell which actions on which resources it needs. */
export interface GatedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * An HTTP gate in front of an emulator that has no IAM of its own (dynalite, s3rver): it reads
 * each request, has `iam` check what it needs for the function that signed it, and passes it on
 * unchanged, or answers AccessDenied as the service would. `rewrite` may change the headers and
 * URL passed on (s3rver knows one access key only).
 */
export async function startIamGate(options: {
  readonly name: string;
  readonly upstream: string;
  readonly iam: LocalIam;
  readonly authorizationsOf: (request: GatedRequest) => Authorization[];
  readonly denied: (error: AccessDenied) => { status: number; type: string; body: string };
  readonly rewrite?: (request: GatedRequest) => { url: string; headers: IncomingHttpHeaders };
  readonly port?: number;
}): Promise<RunningService> {
  const upstream = new URL(options.upstream);
  const agent = new Agent({ keepAlive: true });
  // Requests passed on and not yet answered: closing waits for them, so the emulator behind never
  // answers (and logs) after it has closed.
  const passing = new Set<Promise<void>>();
  const server = createServer(async (incoming, response) => {
    try {
      const request = await read(incoming);
      const principal = options.iam.principalOf(request.headers, request.url);
      if (principal) await options.iam.authorize(principal, options.authorizationsOf(request));
      const { url, headers } = options.rewrite?.(request) ?? request;
      const passed = forward(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: request.method,
          path: url,
          headers,
          agent,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(response);
        },
      );
      const answered = new Promise<void>((resolve) => {
        passed.on("close", resolve);
      });
      passing.add(answered);
      void answered.then(() => passing.delete(answered));
      passed.on("error", (error) => response.destroy(error));
      passed.end(request.body);
    } catch (error) {
      if (!(error instanceof AccessDenied)) {
        response.writeHead(500, { "content-type": "text/plain" });
        response.end(`${options.name}: ${(error as Error).message}`);
        return;
      }
      const { status, type, body } = options.denied(error);
      response.writeHead(status, {
        "content-type": type,
        "x-amzn-requestid": crypto.randomUUID(),
        "x-amz-request-id": crypto.randomUUID(),
      });
      response.end(incoming.method === "HEAD" ? undefined : body);
    }
  });
  await listen(server, options.port ?? 0, `${options.name}'s IAM gate`);
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.race([
        Promise.allSettled([...passing]),
        new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
      ]);
      agent.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}

async function read(incoming: IncomingMessage): Promise<GatedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  return {
    method: incoming.method ?? "GET",
    url: incoming.url ?? "/",
    headers: incoming.headers,
    body: Buffer.concat(chunks),
  };
}

/** The parts of a DynamoDB request's input that name tables. */
interface DynamoInput {
  readonly TableName?: unknown;
  readonly ResourceArn?: unknown;
  readonly Statement?: unknown;
  readonly Statements?: { Statement?: unknown }[];
  readonly TransactStatements?: { Statement?: unknown }[];
  readonly IndexName?: unknown;
  readonly RequestItems?: Record<string, unknown>;
  readonly TransactItems?: Record<string, { TableName?: string }>[];
}

const tableArn = (table: string) =>
  table.startsWith("arn:")
    ? table
    : `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${table}`;

/** What a DynamoDB request (JSON protocol) needs: `dynamodb:<Operation>` on each table (or index) it names. */
export function dynamodbAuthorizations(request: GatedRequest): Authorization[] {
  const operation = String(request.headers["x-amz-target"] ?? "").split(".")[1] ?? "";
  const action = `dynamodb:${operation}`;
  let input: DynamoInput = {};
  try {
    input = JSON.parse(request.body.toString("utf8") || "{}");
  } catch {
    return []; // dynalite answers a body that is not JSON with its own error
  }
  switch (operation) {
    case "ListTables":
      return [{ action, resource: "*" }];
    case "BatchGetItem":
    case "BatchWriteItem":
      return Object.keys(input.RequestItems ?? {}).map((table) => ({
        action,
        resource: tableArn(table),
      }));
    case "TransactWriteItems":
    case "TransactGetItems": {
      const kinds: Record<string, string> = {
        Put: "PutItem",
        Update: "UpdateItem",
        Delete: "DeleteItem",
        ConditionCheck: "ConditionCheckItem",
        Get: "GetItem",
      };
      return (input.TransactItems ?? []).flatMap((item) =>
        Object.entries(item).map(([kind, detail]) => ({
          action: `dynamodb:${kinds[kind] ?? kind}`,
          resource: tableArn(String(detail?.TableName)),
        })),
      );
    }
    case "ExecuteStatement":
    case "BatchExecuteStatement":
    case "ExecuteTransaction": {
      // PartiQL: each statement's verb names its action (its table is not read here: any table).
      const statements = [
        input.Statement,
        ...(input.Statements ?? []).map((s) => s.Statement),
        ...(input.TransactStatements ?? []).map((s) => s.Statement),
      ];
      return statements.flatMap((statement) => {
        const verb = /^\s*(select|insert|update|delete)\b/i.exec(String(statement ?? ""))?.[1];
        if (!verb) return statement === undefined ? [] : [{ action, resource: "*" }];
        const partiql = `dynamodb:PartiQL${verb[0]?.toUpperCase()}${verb.slice(1).toLowerCase()}`;
        return [{ action: partiql, resource: "*" }];
      });
    }
    default: {
      // An operation on a resource by ARN (tags, backups, ...); anything else on no resource.
      if (typeof input.ResourceArn === "string") return [{ action, resource: input.ResourceArn }];
      if (typeof input.TableName !== "string") return [{ action, resource: "*" }];
      const table = tableArn(input.TableName);
      return [
        {
          action,
          resource:
            typeof input.IndexName === "string" ? `${table}/index/${input.IndexName}` : table,
        },
      ];
    }
  }
}

/** DynamoDB's answer to a refused call. */
export const dynamodbDenied = (error: AccessDenied) => ({
  status: 400,
  type: "application/x-amz-json-1.0",
  body: JSON.stringify({
    __type: "com.amazon.coral.service#AccessDeniedException",
    Message: error.message,
  }),
});

/**
 * What an S3 request (REST, path-style: `/<bucket>/<key>`) needs: `s3:GetObject`,
 * `s3:PutObject`, `s3:DeleteObject` on `arn:aws:s3:::<bucket>/<key>`, `s3:ListBucket` on the
 * bucket, and so on, as S3 authorizes each operation.
 */
export function s3Authorizations(request: GatedRequest): Authorization[] {
  const url = new URL(request.url, "http://local");
  const [bucket = "", ...rest] = url.pathname.slice(1).split("/");
  const key = decodeURIComponent(rest.join("/"));
  const has = (name: string) => url.searchParams.has(name);
  const method = request.method.toUpperCase();
  const on = (action: string, resource: string): Authorization => ({
    action: `s3:${action}`,
    resource,
  });
  if (!bucket) return [on("ListAllMyBuckets", "*")];
  const bucketArn = `arn:aws:s3:::${decodeURIComponent(bucket)}`;
  // A bucket's settings: the sub-resource in the query names the action.
  const setting = BUCKET_SETTINGS.find(([name]) => has(name));
  if (!key && setting) {
    const [, get, put, remove] = setting;
    const action = method === "PUT" ? put : method === "DELETE" ? remove : get;
    return action ? [on(action, bucketArn)] : [];
  }
  if (!key) {
    if (method === "POST" && has("delete")) {
      const keys = [...request.body.toString("utf8").matchAll(/<Key>([^<]*)<\/Key>/g)];
      return keys.map((match) => on("DeleteObject", `${bucketArn}/${unescapeXml(match[1] ?? "")}`));
    }
    if (method === "PUT") return [on("CreateBucket", bucketArn)];
    if (method === "DELETE") return [on("DeleteBucket", bucketArn)];
    if (has("uploads")) return [on("ListBucketMultipartUploads", bucketArn)];
    if (has("versions")) return [on("ListBucketVersions", bucketArn)];
    if (has("location")) return [on("GetBucketLocation", bucketArn)];
    return [on("ListBucket", bucketArn)];
  }
  const objectArn = `${bucketArn}/${key}`;
  switch (method) {
    case "GET":
    case "HEAD":
      if (has("versionId") && has("tagging")) return [on("GetObjectVersionTagging", objectArn)];
      if (has("versionId")) return [on("GetObjectVersion", objectArn)];
      if (has("tagging")) return [on("GetObjectTagging", objectArn)];
      if (has("acl")) return [on("GetObjectAcl", objectArn)];
      if (has("uploadId")) return [on("ListMultipartUploadParts", objectArn)];
      return [on("GetObject", objectArn)];
    case "PUT": {
      if (has("tagging")) return [on("PutObjectTagging", objectArn)];
      if (has("acl")) return [on("PutObjectAcl", objectArn)];
      const source = request.headers["x-amz-copy-source"];
      const copied = source
        ? [
            on(
              "GetObject",
              `arn:aws:s3:::${decodeURIComponent(String(source).replace(/^\//, "").split("?")[0] ?? "")}`,
            ),
          ]
        : [];
      return [on("PutObject", objectArn), ...copied];
    }
    case "DELETE":
      if (has("versionId")) return [on("DeleteObjectVersion", objectArn)];
      if (has("uploadId")) return [on("AbortMultipartUpload", objectArn)];
      if (has("tagging")) return [on("DeleteObjectTagging", objectArn)];
      return [on("DeleteObject", objectArn)];
    case "POST":
      if (has("restore")) return [on("RestoreObject", objectArn)];
      return [on("PutObject", objectArn)]; // multipart uploads: create and complete
    default:
      return [];
  }
}

/** A bucket's sub-resources and the actions that read, write and delete them. */
const BUCKET_SETTINGS: readonly (readonly [string, string, string, string | undefined])[] = [
  ["policy", "GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"],
  ["tagging", "GetBucketTagging", "PutBucketTagging", "PutBucketTagging"],
  ["cors", "GetBucketCORS", "PutBucketCORS", "PutBucketCORS"],
  [
    "lifecycle",
    "GetLifecycleConfiguration",
    "PutLifecycleConfiguration",
    "PutLifecycleConfiguration",
  ],
  ["versioning", "GetBucketVersioning", "PutBucketVersioning", undefined],
  ["acl", "GetBucketAcl", "PutBucketAcl", undefined],
  ["website", "GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"],
  ["notification", "GetBucketNotification", "PutBucketNotification", undefined],
  [
    "encryption",
    "GetEncryptionConfiguration",
    "PutEncryptionConfiguration",
    "PutEncryptionConfiguration",
  ],
];

/** S3's answer to a refused call. */
export const s3Denied = (error: AccessDenied) => ({
  status: 403,
  type: "application/xml",
  body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${escapeXml(error.message)}</Message></Error>`,
});

/**
 * s3rver knows one access key (its own): a function's request goes on signed with it. s3rver
 * does not verify SigV4 signatures, only the key, so the rest of the signature is left as it is.
 */
export function withS3rverKey(
  accessKeyId: string,
): (request: GatedRequest) => { url: string; headers: IncomingHttpHeaders } {
  return (request) => {
    const headers = { ...request.headers };
    if (typeof headers.authorization === "string")
      headers.authorization = headers.authorization.replace(
        /Credential=[^/,\s]+\//,
        `Credential=${accessKeyId}/`,
      );
    const url = new URL(request.url, "http://local");
    const credential = url.searchParams.get("X-Amz-Credential");
    if (!credential) return { url: request.url, headers };
    url.searchParams.set("X-Amz-Credential", credential.replace(/^[^/]+\//, `${accessKeyId}/`));
    return { url: `${url.pathname}${url.search}`, headers };
  };
}

const escapeXml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const unescapeXml = (text: string) =>
  text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
