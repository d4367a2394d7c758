import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT, startLocalStack } from "../../local/stack.ts";
import { client, type E2ETarget, job, waitFor, waitForBatchEnd } from "../helpers/e2e.ts";
import { spawnLocalStack } from "../helpers/local-process.ts";

// These tests are about the embedded local stack itself, so they always run it, as real processes:
// a restart is a new process, as it is for a user.
const dataDirs: string[] = [];
const freshDataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "stepbatch-e2e-"));
  dataDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

describe("the local stack killed mid-batch and started again", () => {
  it("keeps batches and its token, and fails the executions that were running, as AWS reports an execution whose tasks died, with no job left running", async () => {
    // Prepare: a batch mid-run when the process is killed outright.
    const dataDir = freshDataDir();
    const first = await spawnLocalStack(["--data-dir", dataDir]);
    const api1 = client({ apiUrl: first.apiUrl, token: first.token } as E2ETarget);
    const submitted = await api1.submit({
      jobs: [
        job("long-1", { pages: 10, workMs: 5000 }),
        job("long-2", { pages: 10, workMs: 5000 }),
        job("later", { pages: 10, workMs: 5000 }),
      ],
      concurrency: 2,
    });
    const { batchId } = submitted.body;
    await waitFor(
      async () => (await api1.batch(batchId)).body.progress.running === 2,
      "two jobs to run",
    );
    first.child.kill("SIGKILL");
    await first.exited;
    // Act
    const second = await spawnLocalStack(["--data-dir", dataDir]);
    try {
      const api2 = client({ apiUrl: second.apiUrl, token: second.token } as E2ETarget);
      const ended = await waitForBatchEnd(api2, batchId);
      // Assess
      expect(second.token).toBe(first.token);
      expect(second.output()).toContain("1 execution(s) were running when the stack stopped");
      expect(ended.status).toBe("failed");
      expect(ended.error).toMatchObject({
        name: "LocalStackRestarted",
        message: expect.stringMatching(/local stack stopped/),
      });
      expect(ended.progress).toMatchObject({ total: 3, running: 0, queued: 0, failed: 3 });
      const listed = await api2.call("GET", "/batches");
      expect(listed.body.batches.map((b: any) => b.batchId)).toContain(batchId);
    } finally {
      second.child.kill("SIGKILL");
    }
  });
});

describe("starting the local stack", () => {
  it("refuses a port already in use, naming it", async () => {
    // Prepare
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
    const port = (blocker.address() as { port: number }).port;
    try {
      // Act / Assess
      await expect(startLocalStack({ port })).rejects.toThrow(
        `127.0.0.1:${port}: the port is already in use`,
      );
    } finally {
      blocker.close();
    }
  });

  it("runs as `npm start` (stepbatch dev on the demo): prints the URL, the token and an example, serves the API, and stops cleanly on Ctrl-C", async () => {
    // Prepare
    const stack = await spawnLocalStack(["--in-memory"], {
      STEPBATCH_TOKEN: "e2e-token-for-the-banner",
    });
    try {
      // Act
      const listed = await fetch(`${stack.apiUrl}/batches`, {
        headers: { authorization: "Bearer e2e-token-for-the-banner" },
      });
      stack.child.kill("SIGINT");
      const code = await stack.exited;
      // Assess
      expect(listed.status).toBe(200);
      expect(stack.output()).toContain(
        "token     e2e-token-for-the-banner  (from STEPBATCH_TOKEN)",
      );
      expect(stack.output()).toMatch(/curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/batches/);
      expect(stack.output()).toContain("npx stepbatch cancel <batchId>");
      // In memory no file tells the CLI where the stack is: the banner says how to.
      expect(stack.output()).toContain(
        `export STEPBATCH_API_URL=${stack.apiUrl} STEPBATCH_TOKEN=e2e-token-for-the-banner`,
      );
      expect(stack.output()).toContain("stepbatch: stopped.");
      expect(code).toBe(0);
    } finally {
      stack.child.kill("SIGKILL");
    }
  });
});

describe("the local stack on the bundles `cdk synth` wrote", () => {
  it("runs the cloud assembly given with --bundles, as deployed, without synthesizing again", async () => {
    // Prepare: the real CDK CLI synthesizes the app of cdk.json, bundles included.
    const assembly = join(PROJECT_ROOT, ".stepbatch", "build", `cdk-out-${process.pid}`);
    dataDirs.push(assembly);
    const synth = spawnSync(
      join(PROJECT_ROOT, "node_modules", ".bin", "cdk"),
      ["synth", "--quiet", "--output", assembly],
      { cwd: PROJECT_ROOT, encoding: "utf8" },
    );
    expect(synth.status, `cdk synth failed:\n${synth.stderr}${synth.stdout}`).toBe(0);
    const stack = await spawnLocalStack(["--in-memory", "--bundles", assembly]);
    try {
      const api = client({ apiUrl: stack.apiUrl, token: stack.token } as E2ETarget);
      // Act
      const submitted = await api.submit({ jobs: [job("from-the-assembly", { pages: 1 })] });
      const ended = await waitForBatchEnd(api, submitted.body.batchId);
      // Assess
      expect(ended.status).toBe("succeeded");
      expect(stack.output()).toContain(
        `reading the cloud assembly in ${relative(PROJECT_ROOT, assembly)}`,
      );
      expect(stack.output()).not.toContain("synthesized");
    } finally {
      stack.child.kill("SIGKILL");
    }
  });

  it("refuses a folder that holds no cloud assembly, saying how to make one", async () => {
    // Act
    const stack = spawnLocalStack(["--in-memory", "--bundles", freshDataDir()]);
    // Assess
    await expect(stack).rejects.toThrow(
      /holds no cloud assembly \(no manifest.json\): run `npx cdk synth` first/,
    );
  });
});
