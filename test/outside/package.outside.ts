/**
 * stepbatch used from the outside, exactly as the README's "Use stepbatch in your project" says:
 * the package packed, installed into a new project outside this repository (npm registry only),
 * `npx stepbatch init`, the phases replaced with the stock digest, `npx stepbatch dev`, a batch
 * submitted and one job cancelled mid-phase through `stepbatch/client`, and `npx cdk synth`.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../infra/paths.ts";
import { startNewsServer } from "../../pipelines/stock-digest/fixture-server.ts";
import { waitFor } from "../helpers/wait.ts";

const run = promisify(execFile);
const workspace = mkdtempSync(join(tmpdir(), "stepbatch-outside-"));
const project = join(workspace, "my-batches");
/** npm and npx from this repository's Node 24, quiet, never asking, from the npm cache first. */
const npmEnv = {
  ...process.env,
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_prefer_offline: "true",
  npm_config_yes: "true",
  npm_config_update_notifier: "false",
};
const sh = (command: string, args: string[], cwd = project, env: NodeJS.ProcessEnv = npmEnv) =>
  run(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 180_000 });
/** A command's output whatever its exit code, with the code. */
const shAnyway = (command: string, args: string[], cwd = project) =>
  sh(command, args, cwd).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code?: number; stdout?: string }) => ({
      code: error.code ?? -1,
      stdout: error.stdout ?? "",
    }),
  );

let tarball = "";
let news: Awaited<ReturnType<typeof startNewsServer>>;
let dev: ChildProcess | undefined;
let devExited: Promise<number | null> = Promise.resolve(null);
let devOutput = "";

beforeAll(async () => {
  // SLOW.TO and beta take their time, so that a cancel finds them mid-phase.
  news = await startNewsServer({
    delayMs: (ticker) => (ticker === "SLOW.TO" || ticker === "beta" ? 1_500 : 20),
  });
});
afterAll(async () => {
  try {
    if (dev?.pid) process.kill(-dev.pid, "SIGKILL");
  } catch {
    // the process group has already gone
  }
  await news?.close();
  rmSync(workspace, { recursive: true, force: true });
});

describe("stepbatch in a project of its own", () => {
  it("packs into one tarball with compiled JavaScript, type declarations and the bin", async () => {
    // Act: npm pack runs the build first (prepack).
    const { stdout } = await sh("npm", ["pack", "--pack-destination", workspace], PACKAGE_ROOT);
    tarball = join(workspace, stdout.trim().split("\n").at(-1) ?? "");
    const { stdout: listing } = await sh("tar", ["tzf", tarball], workspace);
    // Assess
    for (const file of [
      "package/dist/sdk/index.js",
      "package/dist/sdk/index.d.ts",
      "package/dist/infra/index.js",
      "package/dist/client/index.d.ts",
      "package/dist/vendor/dynalite.cjs",
      "package/dist/console/app.js",
      "package/dist/console/app.css",
      "package/bin/stepbatch.mjs",
      "package/templates/init/stepbatch.config.ts",
    ])
      expect(listing).toContain(file);
    expect(listing).not.toMatch(/package\/(test|node_modules|cli\/main\.ts)/);
  });

  it("installs from the tarball, and `npx stepbatch init` writes a project whose test and type-check pass", async () => {
    // Prepare
    await sh("mkdir", ["-p", project], workspace);
    await sh("npm", ["install", tarball]);
    // Act
    const { stdout } = await sh("npx", ["stepbatch", "init"]);
    await sh("npm", ["install"]);
    const tested = await sh("npm", ["test"]);
    const typed = await sh("npm", ["run", "typecheck"]);
    // Assess
    expect(stdout).toContain("npx stepbatch dev");
    for (const file of ["stepbatch.config.ts", "phases/fetch.ts", "infra/app.ts", ".gitignore"])
      expect(existsSync(join(project, file)), file).toBe(true);
    expect(`${tested.stdout}${tested.stderr}`).toMatch(/pass 1/);
    expect(`${typed.stdout}${typed.stderr}`).not.toMatch(/error TS\d+/);
  });

  it("runs the stock digest with `npx stepbatch dev`: one job cancelled mid-phase, the others done, outputs read through stepbatch/client", async () => {
    // Prepare: the stock digest's phases in place of the scaffolded ones.
    useStockDigest();
    dev = spawn("npx", ["stepbatch", "dev", "--port", "0"], {
      cwd: project,
      env: { ...npmEnv, STOCK_NEWS_URL: news.url },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, as in a terminal: Ctrl-C reaches npx and the stack it runs.
      detached: true,
    });
    const started = dev;
    devExited = new Promise((resolve) => started.on("exit", (code) => resolve(code)));
    dev.stdout?.on("data", (chunk) => {
      devOutput += String(chunk);
    });
    dev.stderr?.on("data", (chunk) => {
      devOutput += String(chunk);
    });
    await waitFor(
      async () => /API\s+http:\/\/127\.0\.0\.1:\d+/.test(devOutput) || undefined,
      `the dev banner (so far: ${devOutput})`,
      120_000,
    );
    writeFileSync(join(project, "check.ts"), CHECK_SCRIPT);
    // Act
    const { stdout } = await sh("npx", ["tsx", "check.ts"]);
    const seen = JSON.parse(stdout) as CheckResult;
    // Assess
    expect(devOutput).toContain("pipeline  stock-digest (Ingest -> Digest -> Commit");
    expect(seen.cancelled).toMatchObject({
      status: "cancelled",
      name: "SLOW.TO",
      wasInPhase: "Ingest",
    });
    expect(seen.status).toBe("completed_with_errors");
    expect(seen.jobs).toEqual({
      "RY.TO": "succeeded",
      "SLOW.TO": "cancelled",
      "TD.TO": "succeeded",
    });
    expect(seen.jobsProcessed).toBe(3);
    expect(seen.articlesDigested).toBeGreaterThan(0);
    expect(seen.ryPhases).toEqual(["Ingest", "Digest", "Commit"]);
    expect(seen.ryItems).toBeGreaterThan(0);
  });

  it("answers the README's CLI commands, run from a folder inside the project, which find the stack by themselves", async () => {
    // Prepare
    const inside = join(project, "phases");
    // Act
    const submitted = await sh("npx", ["stepbatch", "submit", "alpha", "beta", "gamma"], inside);
    const batchId = /Batch (b-[a-z0-9-]+) started/.exec(submitted.stdout)?.[1] ?? "";
    await waitFor(async () => {
      const { stdout } = await sh("npx", ["stepbatch", "--json", "status", batchId], inside);
      const batch = JSON.parse(stdout) as { current?: { name: string; phase: string }[] };
      return (
        batch.current?.some((job) => job.name === "beta" && job.phase === "Ingest") || undefined
      );
    }, "beta to be fetching its news");
    const cancelled = await sh(
      "npx",
      ["stepbatch", "cancel-job", batchId, "beta", "--reason", "not this one"],
      inside,
    );
    const watched = await shAnyway("npx", ["stepbatch", "watch", batchId], inside);
    const results = await sh("npx", ["stepbatch", "results", batchId], inside);
    // Assess
    expect(batchId).not.toBe("");
    expect(cancelled.stdout).toMatch(/beta/);
    expect(watched).toMatchObject({ code: 8 }); // ended without succeeding: one job was cancelled
    expect(watched.stdout).toContain("completed_with_errors");
    expect(results.stdout).toMatch(/beta[^\n]*cancelled/);
    expect(results.stdout).toMatch(/alpha[^\n]*succeeded/);
  });

  it("serves the console from the installed package: the sign-in page, then its bundled script", async () => {
    // Prepare
    const apiUrl = /API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(devOutput)?.[1] ?? "";
    const token = readFileSync(join(project, ".stepbatch", "token"), "utf8").trim();
    // Act
    const signInPage = await (await fetch(`${apiUrl}/`)).text();
    const signedIn = await fetch(`${apiUrl}/_console/session`, {
      method: "POST",
      body: new URLSearchParams({ token }),
      redirect: "manual",
    });
    const cookie = (signedIn.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const script = await fetch(`${apiUrl}/_console/app.js`, { headers: { cookie } });
    const batches = await fetch(`${apiUrl}/_console/api/batches`, { headers: { cookie } });
    // Assess
    expect(devOutput).toContain(`console   ${apiUrl}/`);
    expect(signInPage).toContain("API token");
    expect(signedIn.status).toBe(303);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("javascript");
    expect((await script.text()).length).toBeGreaterThan(1000);
    expect(batches.status).toBe(200);
  });

  it("stops `npx stepbatch dev` cleanly on Ctrl-C", async () => {
    // Act: what Ctrl-C does in a terminal, SIGINT to the foreground process group.
    if (dev?.pid) process.kill(-dev.pid, "SIGINT");
    await devExited; // npx itself ends on the signal; the stack it runs stops on its own terms
    const stopped = await waitFor(
      async () => devOutput.includes("stepbatch: stopped.") || undefined,
      `the stack's goodbye (so far: ${devOutput.slice(-400)})`,
      30_000,
    );
    // Assess
    expect(stopped).toBe(true);
    expect(existsSync(join(project, ".stepbatch", "local.json"))).toBe(false);
  });

  it("synthesizes the project's CDK app with `npx cdk synth`: one function per phase, states named after them", async () => {
    // Act
    await sh("npx", ["cdk", "synth", "--quiet"]);
    // Assess
    const templateFile = readdirSync(join(project, "cdk.out")).find((f) =>
      f.endsWith(".template.json"),
    );
    const template = readFileSync(join(project, "cdk.out", templateFile ?? "none"), "utf8");
    for (const phase of ["Ingest", "Digest", "Commit"])
      expect(template).toContain(`stock-digest pipeline: phase ${phase}`);
    expect(template).toContain("AWS::StepFunctions::StateMachine");
  });
});

/** Copies the stock digest's phases and config into the project, importing `stepbatch` as users do. */
function useStockDigest(): void {
  const from = join(PACKAGE_ROOT, "pipelines", "stock-digest");
  for (const file of readdirSync(join(project, "phases"))) rmSync(join(project, "phases", file));
  rmSync(join(project, "test", "fetch.test.ts"));
  const asUser = (text: string) => text.replaceAll('"../../sdk/index.ts"', '"stepbatch"');
  for (const file of ["ingest.ts", "digest.ts", "commit.ts", "news.ts"])
    writeFileSync(join(project, "phases", file), asUser(readFileSync(join(from, file), "utf8")));
  const config = asUser(readFileSync(join(from, "stepbatch.config.ts"), "utf8"))
    .replaceAll('from "./', 'from "./phases/')
    .replaceAll('entry: "', 'entry: "phases/');
  writeFileSync(join(project, "stepbatch.config.ts"), config);
}

interface CheckResult {
  cancelled: Record<string, unknown>;
  status: string;
  jobs: Record<string, string>;
  jobsProcessed: number;
  articlesDigested: number;
  ryPhases: string[];
  ryItems: number;
}

/** What a user's script does with stepbatch/client: submit, cancel one job mid-phase, read back. */
const CHECK_SCRIPT = `import { resolveConnection, StepbatchClient } from "stepbatch/client";

const api = new StepbatchClient(resolveConnection());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const deadline = Date.now() + 120_000;
const tick = async (what: string) => {
  if (Date.now() > deadline) throw new Error(\`gave up waiting for \${what}\`);
  await sleep(100);
};
const submitted = await api.submit({ name: "outside", jobs: ["RY.TO", "SLOW.TO", "TD.TO"] });
const { batchId } = submitted;
const idOf = (name: string) => submitted.jobs.find((job) => job.name === name)?.jobId ?? "";
for (;;) {
  const slow = await api.getJob(batchId, idOf("SLOW.TO"));
  if (slow.status === "running" && slow.phase === "Ingest") break;
  await tick("SLOW.TO to be fetching its news");
}
const cancelled = await api.cancelJob(batchId, idOf("SLOW.TO"), { reason: "outside test" });
let batch = await api.getBatch(batchId);
while (!["succeeded", "completed_with_errors", "failed", "cancelled"].includes(batch.status)) {
  await tick("the batch to end");
  batch = await api.getBatch(batchId);
}
const results = await api.getResults(batchId);
const ry = await api.getJobOutput(batchId, idOf("RY.TO"));
console.log(JSON.stringify({
  cancelled,
  status: batch.status,
  jobs: Object.fromEntries(batch.jobs.map((job) => [job.name, job.status])),
  jobsProcessed: results.jobsProcessed,
  articlesDigested: results.partialResults.articlesDigested,
  ryPhases: ry.phases.map((phase) => phase.phase),
  ryItems: ry.phases.reduce((total, phase) => total + phase.itemCount, 0),
}));
`;
