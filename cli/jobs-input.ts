import { readFileSync } from "node:fs";
import { JobsTextError, parseJobsText } from "../client/jobs-text.ts";
import type { SubmitBody } from "../client/stepbatch-client.ts";
import { UsageError } from "./exit-codes.ts";

type Job = SubmitBody["jobs"][number];

/**
 * Jobs for `submit`: names given as arguments, or a file (`-` is stdin) holding either JSON (an
 * array of jobs, or a whole request body) or plain text, one job name per line (`#` comments).
 */
export function readJobs(
  args: readonly string[],
  options: { file?: string; input?: string; stdin?: () => string },
): { jobs: Job[]; body: Partial<SubmitBody> } {
  const defaultInput = options.input ? parseInput(options.input) : undefined;
  const named = (name: string): Job => (defaultInput ? { name, input: defaultInput } : name);
  if (options.file && args.length > 0)
    throw new UsageError("give jobs as arguments or with --file, not both");
  if (!options.file) {
    if (args.length === 0)
      throw new UsageError(
        "no jobs: name them (stepbatch submit RY.TO TD.TO), or use --file <path> (- for stdin)",
      );
    return { jobs: args.map(named), body: {} };
  }
  const text =
    options.file === "-"
      ? (options.stdin ?? (() => readFileSync(0, "utf8")))()
      : readFile(options.file);
  try {
    return parseJobsText(text, options.file === "-" ? "stdin" : options.file, named);
  } catch (error) {
    throw error instanceof JobsTextError ? new UsageError(error.message) : error;
  }
}

function readFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

function parseInput(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === "object" && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new UsageError(`--input must be a JSON object, e.g. '{"pages":10,"workMs":5000}'`);
}
