import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { App, type Stack } from "aws-cdk-lib";
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

function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, someone else's
  }
}

export interface Synthesized {
  readonly template: CloudFormationTemplate;
  readonly stackName: string;
  /** The cloud assembly folder: asset paths in the template's metadata are relative to it. */
  readonly outdir: string;
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
