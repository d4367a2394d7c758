import { existsSync, readFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";

export interface Connection {
  readonly apiUrl: string;
  readonly token: string;
  /** Where the settings came from, for messages. */
  readonly source: string;
}

export const DEFAULT_LOCAL_URL = "http://127.0.0.1:3000";

/** Thrown when no token can be found anywhere. */
export class MissingTokenError extends Error {
  override readonly name = "MissingTokenError";
}

/**
 * Finds the API URL and token: explicit values first, then STEPBATCH_API_URL / STEPBATCH_TOKEN,
 * then the local stack's own files (`.stepbatch/local.json` and `.stepbatch/token` of the project
 * the command runs in, or under STEPBATCH_DATA_DIR), then the local stack's default URL.
 */
export function resolveConnection(
  explicit: { apiUrl?: string; token?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Connection {
  const dataDir = resolve(env.STEPBATCH_DATA_DIR ?? localDataDir(cwd));
  const local = readJson(join(dataDir, "local.json")) as { apiUrl?: string } | undefined;
  const localToken = readText(join(dataDir, "token"));

  const apiUrl =
    explicit.apiUrl ??
    env.STEPBATCH_API_URL ??
    local?.apiUrl ??
    (env.STEPBATCH_PORT ? `http://127.0.0.1:${env.STEPBATCH_PORT}` : DEFAULT_LOCAL_URL);
  const token = explicit.token ?? env.STEPBATCH_TOKEN ?? localToken;
  if (!token) {
    throw new MissingTokenError(
      `no API token: pass --token, set STEPBATCH_TOKEN, or start the local stack (npx stepbatch dev), which keeps one in ${join(dataDir, "token")}`,
    );
  }
  const source = explicit.apiUrl
    ? "--api-url"
    : env.STEPBATCH_API_URL
      ? "STEPBATCH_API_URL"
      : local?.apiUrl
        ? join(dataDir, "local.json")
        : "the local stack default";
  return { apiUrl: apiUrl.replace(/\/+$/, ""), token, source };
}

/**
 * The local stack's data folder for a command run in `cwd`: the nearest `.stepbatch` folder with a
 * token or a running stack's `local.json` at or above it (the CLI works from anywhere inside the
 * project), else `./.stepbatch`.
 */
export function localDataDir(cwd: string): string {
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    const data = join(dir, ".stepbatch");
    if (existsSync(join(data, "token")) || existsSync(join(data, "local.json"))) return data;
    if (dirname(dir) === dir) return join(resolve(cwd), ".stepbatch");
  }
}

/** `user@host`, sent as the actor of cancels for the audit trail. */
export function currentActor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return "cli";
  }
}

function readText(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, "utf8").trim() || undefined : undefined;
}

function readJson(file: string): unknown {
  const text = readText(file);
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
