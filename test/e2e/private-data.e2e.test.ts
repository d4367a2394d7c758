import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startLocalStack } from "../../local/stack.ts";
import { client, type E2ETarget, job, waitForBatchEnd } from "../helpers/e2e.ts";

// Job inputs, results and the token live in the data folder: no other local user may read them.
// This is about the embedded local stack itself, so it always runs it.
const parent = mkdtempSync(join(tmpdir(), "stepbatch-private-"));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

/** Every entry under `dir` (itself included) whose mode lets group or others in. */
function openToOthers(dir: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const stat = lstatSync(path);
    if ((stat.mode & 0o077) !== 0) found.push(`${path} ${(stat.mode & 0o777).toString(8)}`);
    if (stat.isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry));
  };
  walk(dir);
  return found;
}

describe("the local stack's data folder", () => {
  it("keeps every folder and file it writes private to its owner while a batch runs", async () => {
    // Prepare
    const dataDir = join(parent, "fresh");
    const stack = await startLocalStack({ port: 0, dataDir });
    try {
      const api = client({ apiUrl: stack.apiUrl, token: stack.token } as E2ETarget);
      // Act
      const submitted = await api.submit({
        jobs: [job("a", { pages: 2, workMs: 50 }), job("b", { pages: 2, workMs: 50 })],
      });
      const ended = await waitForBatchEnd(api, submitted.body.batchId);
      expect(ended.status).toBe("succeeded");
    } finally {
      await stack.stop();
    }
    // Assess
    expect(readdirSync(dataDir).sort()).toEqual(["dynamodb", "s3", "stepfunctions", "token"]);
    expect(openToOthers(dataDir)).toEqual([]);
  });

  it("makes a data folder left open by an earlier version private at start-up", async () => {
    // Prepare
    const dataDir = join(parent, "older");
    mkdirSync(join(dataDir, "s3", "bucket"), { recursive: true, mode: 0o755 });
    writeFileSync(join(dataDir, "s3", "bucket", "output._S3rver_object"), "{}", { mode: 0o666 });
    writeFileSync(join(dataDir, "token"), "kept-token\n", { mode: 0o644 });
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, "s3", "bucket", "output._S3rver_object"), 0o666);
    // Act
    const stack = await startLocalStack({ port: 0, dataDir });
    await stack.stop();
    // Assess
    expect(stack.token).toBe("kept-token");
    expect(openToOthers(dataDir)).toEqual([]);
  });
});
