import { type ChildProcess, spawn } from "node:child_process";
import { PROJECT_ROOT } from "../../local/stack.ts";
import { waitFor } from "./e2e.ts";

export interface LocalStackProcess {
  readonly apiUrl: string;
  readonly token: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  readonly exited: Promise<number | null>;
}

/**
 * Runs what `npm start` runs (`node bin/stepbatch.mjs dev`, one process, so a signal reaches
 * the stack itself) and waits for its banner.
 */
export async function spawnLocalStack(
  args: string[],
  env: Record<string, string> = {},
): Promise<LocalStackProcess> {
  const child = spawn(process.execPath, ["bin/stepbatch.mjs", "dev", "--port", "0", ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += String(chunk);
  });
  child.stderr?.on("data", (chunk) => {
    output += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    const apiUrl = await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`the local stack exited early:\n${output}`);
        return output.match(/API\s+(http:\/\/127\.0\.0\.1:\d+)/)?.[1];
      },
      "the local stack's banner",
      60_000,
    );
    const token = output.match(/token\s+(\S+)/)?.[1] ?? "";
    return { apiUrl, token, child, output: () => output, exited };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}
