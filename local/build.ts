import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { App, type Stack } from "aws-cdk-lib";
import { isRunning } from "./files.ts";
import type { CloudFormationTemplate } from "./template.ts";

/** Where the local stack synthesizes: inside the project, so the bundles' external imports (`@aws-sdk/*`) resolve from its node_modules. */
export const synthRoot = (projectRoot: string) => join(projectRoot, ".stepbatch", "build", "synth");

/**
 * A fresh folder for one synth, `<projectRoot>/.stepbatch/build/synth/<pid>-<random>`. Folders
 * left by local stacks whose process is gone (killed, crashed) are removed first.
 */
export function createBuildDir(projectRoot: string): string {
  const root = synthRoot(projectRoot);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  for (const entry of readdirSync(root)) {
    const pid = Number(/^(\d+)-[0-9a-f]+$/.exec(entry)?.[1]);
    if (pid && !isRunning(pid)) rmSync(join(root, entry), { recursive: true, force: true });
  }
  const dir = join(root, `${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

export interface Synthesized {
  readonly template: CloudFormationTemplate;
  readonly stackName: string;
  /** The cloud assembly folder: asset paths in the template's metadata are relative to it. */
  readonly outdir: string;
  /** Synthesized and bundled just now (false: an assembly `cdk synth` wrote before). */
  readonly bundledNow: boolean;
}

/**
 * Synthesizes the stack that `stack` builds into `outdir` as `cdk synth` does, bundling included
 * (NodejsFunction bundles with the local esbuild while the stack is built), with asset metadata
 * on every resource, so each function's code is found in the template.
 *
 * What CDK and esbuild print while bundling is kept, and shown only when the synth fails.
 */
export function synthesize(outdir: string, stack: (app: App) => Stack): Synthesized {
  return quietly(() => {
    const app = new App({ outdir, context: { "aws:cdk:enable-asset-metadata": true } });
    const built = stack(app);
    const assembly = app.synth();
    return {
      template: assembly.getStackArtifact(built.artifactId).template as CloudFormationTemplate,
      stackName: built.stackName,
      outdir,
      bundledNow: true,
    };
  });
}

const childProcess = createRequire(import.meta.url)(
  "node:child_process",
) as typeof import("node:child_process");

/**
 * Runs `build` (synchronous: nothing else runs meanwhile) with what it writes to standard error,
 * and the output of the commands it runs, kept aside: CDK prints "Bundling asset ..." and lets
 * esbuild and npx write to this process's standard error. The kept text is added to the error
 * when `build` throws.
 *
 * CDK runs the project's esbuild through `npx --no-install esbuild`, and npx's own start-up costs
 * about 0.2 s a function; the binary npx would find (the nearest `node_modules/.bin/esbuild`) is
 * run directly instead, with the same arguments, folder and environment.
 */
function quietly<T>(build: () => T): T {
  const kept: string[] = [];
  const spawnSync = childProcess.spawnSync;
  const write = process.stderr.write;
  childProcess.spawnSync = ((command: string, ...rest: unknown[]) => {
    const args = Array.isArray(rest[0]) ? (rest[0] as string[]) : [];
    const options = ((Array.isArray(rest[0]) ? rest[1] : rest[0]) ?? {}) as Record<string, unknown>;
    const direct = directEsbuild(command, args, options.cwd);
    const result = spawnSync(direct?.command ?? command, direct?.args ?? args, {
      ...options,
      stdio: ["ignore", "pipe", "pipe"],
    });
    kept.push(String(result.stdout ?? ""), String(result.stderr ?? ""));
    return result;
  }) as typeof spawnSync;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    kept.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    return build();
  } catch (error) {
    const output = kept.join("").trim();
    if (error instanceof Error && output) error.message += `\n\nWhile bundling:\n${output}`;
    throw error;
  } finally {
    childProcess.spawnSync = spawnSync;
    process.stderr.write = write;
  }
}

/** `npx --no-install esbuild ...` as the esbuild binary npx would run, or undefined. */
function directEsbuild(
  command: string,
  args: readonly string[],
  cwd: unknown,
): { command: string; args: string[] } | undefined {
  if (command !== "npx" || args[0] !== "--no-install" || args[1] !== "esbuild") return undefined;
  if (typeof cwd !== "string") return undefined;
  for (let dir = cwd; ; dir = dirname(dir)) {
    const binary = join(dir, "node_modules", ".bin", "esbuild");
    if (existsSync(binary)) return { command: binary, args: args.slice(2) };
    if (dirname(dir) === dir) return undefined;
  }
}

/** The `app` command of a project's cdk.json (how `cdk synth` runs its CDK app), if it has one. */
export function cdkAppOf(projectRoot: string): { command: string; context: object } | undefined {
  const file = join(projectRoot, "cdk.json");
  if (!existsSync(file)) return undefined;
  const cdk = JSON.parse(readFileSync(file, "utf8")) as { app?: unknown; context?: object };
  if (typeof cdk.app !== "string" || !cdk.app.trim()) return undefined;
  const saved = join(projectRoot, "cdk.context.json");
  const context = {
    ...(existsSync(saved) ? JSON.parse(readFileSync(saved, "utf8")) : {}),
    ...cdk.context,
  };
  return { command: cdk.app, context };
}

/**
 * Runs a project's CDK app as `cdk synth` does (its `app` command in its folder, CDK_OUTDIR and
 * CDK_CONTEXT_JSON set, bundling and asset metadata on), and returns the stack that holds a state
 * machine: stepbatch's, with whatever the app adds around it.
 */
export function synthesizeApp(
  outdir: string,
  projectRoot: string,
  app: { command: string; context: object },
): Synthesized {
  const ran = childProcess.spawnSync(app.command, {
    shell: true,
    cwd: projectRoot,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({
        ...app.context,
        "aws:cdk:enable-asset-metadata": true,
        "aws:cdk:bundling-stacks": ["**"],
      }),
    },
  });
  if (ran.status !== 0)
    throw new Error(
      `your CDK app (${app.command}, from cdk.json) failed${ran.signal ? ` (${ran.signal})` : ""}:\n${`${ran.stderr ?? ""}${ran.stdout ?? ""}`.trim() || ran.error?.message || "no output"}`,
    );
  return { ...readAssembly(outdir, `your CDK app (${app.command})`), bundledNow: true };
}

/**
 * The stack of a cloud assembly (what `cdk synth` writes, `cdk.out`) that holds a state machine:
 * stepbatch's, with whatever the app adds around it. Its functions run from the bundles in it.
 */
export function readAssembly(
  outdir: string,
  what = `the cloud assembly in ${outdir}`,
): Synthesized {
  const manifestFile = join(outdir, "manifest.json");
  if (!existsSync(manifestFile))
    throw new Error(
      `${outdir} holds no cloud assembly (no manifest.json): run \`npx cdk synth\` first, which writes one to cdk.out`,
    );
  const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as {
    artifacts?: Record<
      string,
      { type: string; displayName?: string; properties?: { templateFile?: string } }
    >;
  };
  const stacks = Object.entries(manifest.artifacts ?? {})
    .filter(([, artifact]) => artifact.type === "aws:cloudformation:stack")
    .map(([id, artifact]) => ({
      stackName: artifact.displayName ?? id,
      template: JSON.parse(
        readFileSync(
          join(outdir, artifact.properties?.templateFile ?? `${id}.template.json`),
          "utf8",
        ),
      ) as CloudFormationTemplate,
    }))
    .filter(({ template }) =>
      Object.values(template.Resources ?? {}).some(
        (resource) => resource.Type === "AWS::StepFunctions::StateMachine",
      ),
    );
  if (stacks.length !== 1)
    throw new Error(
      stacks.length === 0
        ? `no stack of ${what} holds a state machine: add the Stepbatch construct (stepbatch/cdk) to one`
        : `several stacks of ${what} hold a state machine (${stacks.map((s) => s.stackName).join(", ")}); the local stack runs one: pass --config to run your pipeline on its own`,
    );
  const [chosen] = stacks as [(typeof stacks)[number]];
  return { template: chosen.template, stackName: chosen.stackName, outdir, bundledNow: false };
}
