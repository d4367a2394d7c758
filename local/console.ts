import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { exportResults, type ResultsHead } from "../client/results-export.ts";
import {
  InvalidIdError,
  StepbatchApiError,
  StepbatchClient,
  safeDecode,
} from "../client/stepbatch-client.ts";
import { tokensMatch } from "../functions/core/token.ts";
import { consoleAssets } from "./console-assets.ts";
import { ExecutionActivity } from "./execution-activity.ts";
import type { LocalStepFunctions } from "./stepfunctions.ts";

/** Serves a request when it is the console's (`/` and `/_console/...`); false when it is not. */
export type ConsoleHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
  search: string,
) => Promise<boolean>;

export interface ConsoleOptions {
  /** The API token: the one thing a browser must show to get in. */
  readonly token: string;
  /** The API the console's pages call, through this server (known once it listens). */
  readonly apiUrl: () => string;
  readonly stepFunctions: LocalStepFunctions;
  /** The synthesized state machine every batch's execution runs. */
  readonly stateMachine: {
    readonly arn: string;
    readonly definition: Readonly<Record<string, unknown>>;
  };
  /** Shown in the console's header. */
  readonly pipelineName?: string;
}

/** A session unused this long has ended: the browser signs in again. */
const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
/** Sessions kept at once; signing in past this ends the one used longest ago. */
const MAX_SESSIONS = 100;
const MAX_LOGIN_BYTES = 4096;
/** API Gateway's payload limit: what the API would refuse is not read into memory here. */
const MAX_FORWARD_BYTES = 10 * 1024 * 1024;
/** What a page's request may say to the API, and what the API's answer may say back. */
const FORWARDED_REQUEST_HEADERS = ["content-type", "idempotency-key", "x-stepbatch-actor"];
const FORWARDED_RESPONSE_HEADERS = ["content-type", "location", "retry-after"];

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  // Not no-referrer: with it a browser sends `Origin: null` on the sign-in form's POST.
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
} as const;

/**
 * The local console: a browser view of the local stack's batches, served on the API's port.
 *
 * Signing in shows the API token once; the browser keeps a session cookie (HttpOnly, SameSite
 * Strict, gone when the browser closes) holding a random session id, so the token itself never
 * sits in the page. Sessions live in this process: signing out, 12 idle hours or a restart of the
 * stack ends them. The cookie's name carries the port, since browsers share cookies between the
 * ports of a host: two stacks on one machine keep apart. Without a session only the sign-in page
 * is served. The pages call the HTTP API through `/_console/api/`, where this server adds the token:
 * the console is one more client of the same API, with two local-only reads beside it (an
 * execution's states as the Step Functions console draws them, and the results as one download).
 */
export function createConsole(options: ConsoleOptions): ConsoleHandler {
  /** Session id to when it was last used; a Map keeps them in the order they were used. */
  const sessions = new Map<string, number>();
  const activities = new Map<string, ExecutionActivity>();
  let api: StepbatchClient | undefined;
  const apiClient = () => {
    api ??= new StepbatchClient({ apiUrl: options.apiUrl(), token: options.token });
    return api;
  };
  const cookieName = () => `stepbatch_console_${new URL(options.apiUrl()).port || "80"}`;
  const sessionOf = (request: IncomingMessage): string | undefined => {
    const id = cookieOf(request, cookieName());
    const lastUsed = id === undefined ? undefined : sessions.get(id);
    if (id === undefined || lastUsed === undefined) return undefined;
    sessions.delete(id);
    if (Date.now() - lastUsed > SESSION_IDLE_MS) return undefined;
    sessions.set(id, Date.now());
    return id;
  };
  const newSession = (): string => {
    const id = randomBytes(32).toString("base64url");
    sessions.set(id, Date.now());
    for (const oldest of sessions.keys()) {
      if (sessions.size <= MAX_SESSIONS) break;
      sessions.delete(oldest);
    }
    return id;
  };

  return async (request, response, path, search) => {
    if (path !== "/" && !path.startsWith("/_console/")) return false;
    const method = request.method ?? "GET";
    if (method !== "GET" && method !== "HEAD" && !sameOrigin(request)) {
      sendJson(response, 403, {
        error: {
          code: "FORBIDDEN",
          message: "the console accepts changes from its own pages only",
        },
      });
      return true;
    }

    if (path === "/_console/session" && method === "POST") {
      const token = await loginToken(request);
      if (token !== undefined && tokensMatch(token, options.token)) {
        response.writeHead(303, {
          ...SECURITY_HEADERS,
          location: "/",
          "set-cookie": `${cookieName()}=${newSession()}; Path=/; HttpOnly; SameSite=Strict`,
        });
        response.end();
      } else
        sendHtml(
          response,
          401,
          loginPage(
            token ? "That is not this stack's API token." : "Enter the API token to sign in.",
          ),
        );
      return true;
    }
    if (path === "/_console/session/end" && method === "POST") {
      const id = sessionOf(request);
      if (id !== undefined) sessions.delete(id);
      response.writeHead(303, {
        ...SECURITY_HEADERS,
        location: "/",
        "set-cookie": `${cookieName()}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`,
      });
      response.end();
      return true;
    }
    if (sessionOf(request) === undefined) {
      if (path === "/") sendHtml(response, 200, loginPage());
      else
        sendJson(response, 401, {
          error: { code: "UNAUTHORIZED", message: "sign in to the console first: open /" },
        });
      return true;
    }

    if (path === "/" && (method === "GET" || method === "HEAD")) {
      sendHtml(response, 200, appShell(options.pipelineName));
      return true;
    }
    if (path === "/_console/app.js" || path === "/_console/app.css") {
      const assets = await consoleAssets();
      const js = path.endsWith(".js");
      response.writeHead(200, {
        ...SECURITY_HEADERS,
        "content-type": js ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8",
      });
      response.end(js ? assets.js : assets.css);
      return true;
    }
    if (path === "/_console/execution" && method === "GET") {
      const arn = new URLSearchParams(search).get("arn");
      if (arn) sendJson(response, ...executionView(arn));
      else
        sendJson(response, 400, {
          error: {
            code: "BAD_REQUEST",
            message: "arn is required: the query parameter that names the execution",
          },
        });
      return true;
    }
    const download = /^\/_console\/results\/([^/]+)$/.exec(path);
    if (download && method === "GET") {
      await downloadResults(response, safeDecode(download[1] as string));
      return true;
    }
    if (path.startsWith("/_console/api/")) {
      await forward(request, response, path.slice("/_console/api".length), search);
      return true;
    }
    sendJson(response, 404, {
      error: { code: "NOT_FOUND", message: `the console has no ${method} ${path}` },
    });
    return true;
  };

  /** The execution's states with what each is doing, read from its history (new events only). */
  function executionView(arn: string): [number, unknown] {
    let execution: ReturnType<LocalStepFunctions["describeExecution"]>;
    try {
      execution = options.stepFunctions.describeExecution({ executionArn: arn });
    } catch {
      // A batch's execution is named before it starts (a queued batch waits for it, a batch
      // cancelled while queued never gets one): its page shows the states, none entered.
      const ofThisMachine = `${options.stateMachine.arn.replace(":stateMachine:", ":execution:")}:`;
      if (arn.startsWith(ofThisMachine) && arn.length > ofThisMachine.length)
        return [
          200,
          {
            executionArn: arn,
            name: arn.slice(ofThisMachine.length),
            status: "NOT_STARTED",
            startDate: null,
            stopDate: null,
            error: null,
            cause: null,
            historyKept: true,
            definition: options.stateMachine.definition,
            states: {},
          },
        ];
      return [
        404,
        { error: { code: "EXECUTION_NOT_FOUND", message: `no execution ${arn} on this stack` } },
      ];
    }
    let activity = activities.get(arn);
    if (!activity) {
      activity = new ExecutionActivity();
      activities.set(arn, activity);
    }
    activity.update(options.stepFunctions.historySince(arn, activity.read));
    return [
      200,
      {
        executionArn: execution.executionArn,
        name: execution.name,
        status: execution.status,
        startDate: new Date(execution.startDate * 1000).toISOString(),
        stopDate: execution.stopDate ? new Date(execution.stopDate * 1000).toISOString() : null,
        error: execution.error ?? null,
        cause: execution.cause ?? null,
        // The history is kept in memory: an execution from before a restart has none.
        historyKept: activity.fromStart,
        definition: options.stateMachine.definition,
        states: activity.snapshot(execution.status),
      },
    ];
  }

  async function forward(
    request: IncomingMessage,
    response: ServerResponse,
    apiPath: string,
    search: string,
  ): Promise<void> {
    // The API's routes only: fetch() resolves dot segments (raw or encoded) that the API's
    // routing never resolves, so "/_console/api/batches/../.." would reach another path.
    const target = new URL(`${options.apiUrl()}${apiPath}${search ? `?${search}` : ""}`);
    if (!target.pathname.endsWith(apiPath) || /^\/_(local|console)(\/|$)/.test(apiPath)) {
      sendJson(response, 400, {
        error: {
          code: "BAD_REQUEST",
          message: `the path ${apiPath} names no API route: it has "." or ".." segments, characters a URL must escape, or is the local stack's own`,
        },
      });
      return;
    }
    const body = await readAll(request);
    if (body === undefined) {
      sendJson(response, 413, {
        error: {
          code: "PAYLOAD_TOO_LARGE",
          message: `request body is larger than ${MAX_FORWARD_BYTES} bytes`,
        },
      });
      return;
    }
    const headers: Record<string, string> = {
      "x-stepbatch-actor": "stepbatch-console",
      ...pick(request.headers, FORWARDED_REQUEST_HEADERS),
      authorization: `Bearer ${options.token}`,
    };
    const answer = await fetch(target, {
      method: request.method ?? "GET",
      headers,
      ...(body.length > 0 ? { body } : {}),
    });
    response.writeHead(answer.status, {
      ...SECURITY_HEADERS,
      "content-type": "application/json",
      ...pick(Object.fromEntries(answer.headers), FORWARDED_RESPONSE_HEADERS),
    });
    response.end(Buffer.from(await answer.arrayBuffer()));
  }

  /**
   * The batch's results as one JSON file, the file `stepbatch results --output` writes: the
   * batch, its jobs with every item, and its summary with the errors of all of them, streamed as
   * the API is read. A read that fails midway cuts the download short (the browser reports it
   * failed) rather than ending a file that looks whole.
   */
  async function downloadResults(response: ServerResponse, batchId: string): Promise<void> {
    let written = 0;
    let summary: ResultsHead["partialResults"] | undefined;
    try {
      const exported = await exportResults(apiClient(), batchId, {
        head: ({ partialResults, ...batch }) => {
          summary = partialResults;
          response.writeHead(200, {
            ...SECURITY_HEADERS,
            "content-type": "application/json; charset=utf-8",
            "content-disposition": `attachment; filename="${batchId.replace(/[^\w.-]/g, "_")}-results.json"`,
          });
          // The batch's fields, then the jobs as they come; the summary ends the file, once
          // every job's errors are known.
          const fields = JSON.stringify(batch).slice(1, -1);
          response.write(`{${fields ? `${fields},` : ""}"jobs":[`);
        },
        job: (job) => {
          response.write(`${written++ > 0 ? "," : ""}\n${JSON.stringify(job)}`);
        },
      });
      const partialResults = { ...summary, errors: exported.errors };
      response.end(`\n],"partialResults":${JSON.stringify(partialResults)}}\n`);
    } catch (error) {
      if (response.headersSent) response.destroy();
      else if (error instanceof StepbatchApiError)
        sendJson(response, error.status, { error: { code: error.code, message: error.message } });
      else if (error instanceof InvalidIdError)
        sendJson(response, 400, { error: { code: "BAD_REQUEST", message: error.message } });
      else throw error;
    }
  }
}

/** The named headers that are present, as single strings. */
function pick(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  names: readonly string[],
): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    const value = headers[name];
    if (value !== undefined) picked[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return picked;
}

/**
 * A change must come from the console's own pages: a browser says where a request comes from
 * (Sec-Fetch-Site, Origin), and it must be this host. A client that is not a browser says neither.
 */
function sameOrigin(request: IncomingMessage): boolean {
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return false;
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

function cookieOf(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at !== -1 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** The request's body, or undefined past what the API takes. */
async function readAll(
  request: IncomingMessage,
  limit = MAX_FORWARD_BYTES,
): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The token from the sign-in form (or a JSON body), or undefined. */
async function loginToken(request: IncomingMessage): Promise<string | undefined> {
  const body = await readAll(request, MAX_LOGIN_BYTES);
  if (body === undefined) return undefined;
  const text = body.toString("utf8");
  if ((request.headers["content-type"] ?? "").includes("application/json")) {
    try {
      const token = (JSON.parse(text) as { token?: unknown }).token;
      return typeof token === "string" ? token.trim() : undefined;
    } catch {
      return undefined;
    }
  }
  return new URLSearchParams(text).get("token")?.trim() || undefined;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { ...SECURITY_HEADERS, "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

function sendHtml(response: ServerResponse, status: number, html: string): void {
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    "content-type": "text/html; charset=utf-8",
    // Nothing from elsewhere: the console works offline, and a page cannot be framed.
    "content-security-policy":
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  });
  response.end(html);
}

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

const HEAD = `<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">`;

function appShell(pipelineName?: string): string {
  return `<!doctype html>
<html lang="en"><head>${HEAD}<title>stepbatch console${pipelineName ? ` · ${escapeHtml(pipelineName)}` : ""}</title>
<link rel="stylesheet" href="/_console/app.css"></head>
<body><div id="app" data-pipeline="${escapeHtml(pipelineName ?? "")}"><p class="loading">Loading the console…</p></div>
<script type="module" src="/_console/app.js"></script></body></html>`;
}

/** The one page served without a session: plain HTML, no script, styles inline. */
function loginPage(message?: string): string {
  return `<!doctype html>
<html lang="en"><head>${HEAD}<title>Sign in · stepbatch console</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#16191f;margin:0;display:grid;place-items:center;min-height:100vh}
main{background:#fff;border:1px solid #c6c9cf;border-radius:8px;padding:2rem;max-width:28rem;width:calc(100% - 4rem)}
h1{font-size:1.4rem;margin:0 0 .5rem}label{display:block;font-weight:600;margin:1rem 0 .25rem}
input{width:100%;box-sizing:border-box;font:inherit;padding:.5rem;border:1px solid #5f6b7a;border-radius:4px}
button{margin-top:1rem;font:inherit;font-weight:600;padding:.5rem 1.25rem;border:0;border-radius:4px;background:#0a5bb5;color:#fff;cursor:pointer}
:focus-visible{outline:3px solid #0a5bb5;outline-offset:2px}.error{color:#b0120f;font-weight:600}code{background:#eef0f3;padding:0 .25rem}
</style></head>
<body><main>
<h1>stepbatch console</h1>
<p>Sign in with this stack's API token: the local stack prints it when it starts (<code>npx stepbatch dev</code>, or <code>npm start</code> in stepbatch's own repository), and keeps it in <code>.stepbatch/token</code>.</p>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ""}
<form method="post" action="/_console/session">
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>
<p><small>The browser keeps you signed in until it closes.</small></p>
</main></body></html>`;
}
