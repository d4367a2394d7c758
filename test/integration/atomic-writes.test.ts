import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provisionBucket, type RunningService, s3Client, startS3 } from "../../local/emulators.ts";
import { stateTableDefinition } from "../helpers/local-aws.ts";
import { waitFor } from "../helpers/wait.ts";

// A kill -9 must never leave a partly written file: patches/s3rver+3.7.1.patch writes every file
// aside and renames it into place, patches/dynalite+4.0.0.patch writes an item and its index
// entries in one LevelDB batch.

describe("s3rver's object writes", () => {
  let dataDir: string;
  let s3: RunningService;
  const folder = () => join(dataDir, "atomic", "out");
  const objectFile = (name: string) => join(folder(), `${name}._S3rver_object`);
  const temporaryFiles = () => readdirSync(folder()).filter((f) => f.includes("_S3rver_tmp_"));

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "stepbatch-atomic-"));
    s3 = await startS3({ dataDir });
    await provisionBucket(s3Client(s3.endpoint), "atomic");
  });
  afterAll(async () => {
    await s3?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A PUT whose body arrives in two halves, the second when `finish` is called. */
  const slowPut = (key: string, half: Buffer) => {
    const { hostname, port } = new URL(s3.endpoint);
    const outgoing = request({
      host: hostname,
      port,
      method: "PUT",
      path: `/atomic/${key}`,
      headers: { "content-length": half.length * 2 },
    });
    const answered = new Promise<number>((resolve, reject) => {
      outgoing.on("response", (incoming) => {
        incoming.resume();
        resolve(incoming.statusCode ?? 0);
      });
      outgoing.on("error", reject);
    });
    outgoing.write(half);
    return {
      finish: () => {
        outgoing.end(half);
        return answered;
      },
      hangUp: () => {
        answered.catch(() => undefined);
        outgoing.destroy();
      },
    };
  };
  const get = async (key: string) => {
    const response = await fetch(`${s3.endpoint}/atomic/${key}`);
    return { status: response.status, text: await response.text() };
  };
  const half = Buffer.alloc(256 * 1024, "n");

  it("never shows a partly written object under its name: the old one stays whole until the new one is", async () => {
    // Prepare
    await fetch(`${s3.endpoint}/atomic/out/job.json`, { method: "PUT", body: "old content" });
    // Act: half of the new content is on disk
    const upload = slowPut("out/job.json", half);
    await waitFor(
      async () => temporaryFiles().some((f) => statSync(join(folder(), f)).size > 0),
      "half of the upload to be written aside",
    );
    const during = {
      file: readFileSync(objectFile("job.json"), "utf8"),
      read: await get("out/job.json"),
    };
    const status = await upload.finish();
    const after = await get("out/job.json");
    // Assess
    expect(during.file).toBe("old content");
    expect(during.read).toEqual({ status: 200, text: "old content" });
    expect(status).toBe(200);
    expect(after.text).toHaveLength(half.length * 2);
    expect(temporaryFiles()).toEqual([]);
  });

  it("leaves nothing under the object's name when the writer goes away mid-upload", async () => {
    // Prepare
    const upload = slowPut("out/cut-short.json", half);
    await waitFor(async () => temporaryFiles().length > 0, "the upload to start");
    // Act
    upload.hangUp();
    await waitFor(async () => temporaryFiles().length === 0, "the cut-short upload to be dropped");
    // Assess
    expect(existsSync(objectFile("cut-short.json"))).toBe(false);
    expect((await get("out/cut-short.json")).status).toBe(404);
  });
});

describe("dynalite's item writes", () => {
  // dynalite's own modules, as its HTTP handler drives them: validate, then run the action.
  const require = createRequire(import.meta.url);
  const db = require("dynalite/db");
  const validations = require("dynalite/validations");
  const run = (store: unknown, action: string, data: Record<string, unknown>) =>
    new Promise((resolve, reject) => {
      const rules = require(`dynalite/validations/${action}`);
      const checked = validations.checkTypes(data, rules.types);
      validations.checkValidations(checked, rules.types, rules.custom, store);
      require(`dynalite/actions/${action}`)(store, checked, (error: unknown, answer: unknown) =>
        error ? reject(error) : resolve(answer),
      );
    });

  /** A store with the state table (and its byCreatedAt index), recording every LevelDB write. */
  const storeWithTable = async () => {
    const store = db.create({ createTableMs: 0 });
    await new Promise<void>((resolve, reject) =>
      store.tableDb.put(
        "state",
        {
          ...stateTableDefinition("state"),
          TableStatus: "ACTIVE",
          GlobalSecondaryIndexes: stateTableDefinition("state").GlobalSecondaryIndexes.map(
            (index) => ({ ...index, IndexStatus: "ACTIVE" }),
          ),
        },
        (error: unknown) => (error ? reject(error) : resolve()),
      ),
    );
    const writes: string[][] = [];
    for (const method of ["put", "del", "batch"] as const) {
      const original = store.db[method];
      store.db[method] = (...args: any[]) => {
        writes.push(
          method === "batch"
            ? args[0].map(
                (op: { type: string; key: string }) => `${op.type} ${op.key.split("~")[0]}`,
              )
            : [`${method} ${String(args[0]).split("~")[0]}`],
        );
        return original(...args);
      };
    }
    return { store, writes };
  };
  const batchItem = (createdAt: string) => ({
    pk: { S: "BATCH#b-1" },
    sk: { S: "META" },
    gsi1pk: { S: "BATCHES" },
    gsi1sk: { S: createdAt },
  });

  it("puts an item and its index entry in one LevelDB write", async () => {
    // Prepare
    const { store, writes } = await storeWithTable();
    // Act
    await run(store, "putItem", { TableName: "state", Item: batchItem("2030-01-01") });
    // Assess
    expect(writes).toEqual([["put index-global", "put item-state"]]);
  });

  it("moves an item's index entry and updates the item in one LevelDB write", async () => {
    // Prepare
    const { store, writes } = await storeWithTable();
    await run(store, "putItem", { TableName: "state", Item: batchItem("2030-01-01") });
    writes.length = 0;
    // Act
    await run(store, "updateItem", {
      TableName: "state",
      Key: { pk: { S: "BATCH#b-1" }, sk: { S: "META" } },
      UpdateExpression: "SET gsi1sk = :t",
      ExpressionAttributeValues: { ":t": { S: "2030-01-02" } },
    });
    // Assess
    expect(writes).toEqual([["del index-global", "put index-global", "put item-state"]]);
  });

  it("deletes an item and its index entry in one LevelDB write", async () => {
    // Prepare
    const { store, writes } = await storeWithTable();
    await run(store, "putItem", { TableName: "state", Item: batchItem("2030-01-01") });
    writes.length = 0;
    // Act
    await run(store, "deleteItem", {
      TableName: "state",
      Key: { pk: { S: "BATCH#b-1" }, sk: { S: "META" } },
    });
    // Assess
    expect(writes).toEqual([["del index-global", "del item-state"]]);
  });
});
