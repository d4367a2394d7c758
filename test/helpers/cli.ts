import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { E2ETarget } from "./e2e.ts";

// Found from here rather than imported from the local stack, so unit tests that run the CLI
// against a fake API do not load the stack.
const PROJECT_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const STEPBATCH_BIN = join(PROJECT_ROOT, "bin", "stepbatch.mjs");

/** Where the CLI sends its requests: a stack under test, or a fake API. */
export type CliTarget = Pick<E2ETarget, "apiUrl" | "token">;

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment a user would set to point the CLI at the stack under test. */
export const cliEnv = (target: CliTarget, extra: Record<string, string> = {}) => ({
  ...process.env,
  STEPBATCH_API_URL: target.apiUrl,
  STEPBATCH_TOKEN: target.token,
  ...extra,
});

/** Starts `stepbatch <args>` as a real process. */
export function startCli(
  target: CliTarget,
  args: string[],
  env: Record<string, string> = {},
): ChildProcess {
  return spawn(process.execPath, [STEPBATCH_BIN, ...args], {
    cwd: PROJECT_ROOT,
    env: cliEnv(target, env),
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Runs `stepbatch <args>` to its end, optionally feeding stdin. */
export function runCli(
  target: CliTarget,
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const child = startCli(target, args, options.env);
  return collect(child, options.stdin);
}

export function collect(child: ChildProcess, stdin?: string): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += String(chunk);
  });
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  child.stdin?.end(stdin ?? "");
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}
