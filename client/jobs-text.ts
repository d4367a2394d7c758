import type { SubmitBody } from "./stepbatch-client.ts";

type Job = SubmitBody["jobs"][number];

export class JobsTextError extends Error {
  override readonly name = "JobsTextError";
}

/**
 * Jobs written as text, as the CLI's `--file` and the console's submit form take them: JSON (an
 * array of jobs, or a whole request body) or plain text, one job name per line (`#` comments).
 * `source` names the text in messages ("jobs.txt", "the jobs").
 */
export function parseJobsText(
  text: string,
  source: string,
  named: (name: string) => Job = (name) => name,
): { jobs: Job[]; body: Partial<SubmitBody> } {
  const trimmed = text.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new JobsTextError(`${source} is not valid JSON: ${(error as Error).message}`);
    }
    if (Array.isArray(parsed))
      return { jobs: parsed.map((j) => (typeof j === "string" ? named(j) : (j as Job))), body: {} };
    const body = parsed as Partial<SubmitBody>;
    if (!Array.isArray(body.jobs))
      throw new JobsTextError(
        `${source}: JSON must be an array of jobs or an object with a jobs array`,
      );
    return { jobs: body.jobs, body };
  }
  const names = trimmed
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter(Boolean);
  if (names.length === 0) throw new JobsTextError(`${source} names no job`);
  return { jobs: names.map(named), body: {} };
}
