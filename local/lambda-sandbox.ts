/**
 * One Lambda execution environment of the local stack: a worker thread that loads one function's
 * code with only the environment the template gives it (the worker's own `process.env`), keeps
 * its module state to itself, and runs one invocation at a time, as a Lambda sandbox does.
 *
 * The local runtime (lambda-runtime.ts) starts it, sends `{ id, event, context }` and receives
 * `{ id, ok, payload }` (the handler's answer as JSON) or `{ id, ok: false, errorType,
 * errorMessage }`. Ending a timed-out invocation is the runtime's job: it terminates this thread.
 *
 * Only Node built-ins here: the thread loads this file with Node alone (no tsx, no bundler).
 */
import { readFileSync } from "node:fs";
import { enableCompileCache, registerHooks } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parentPort, workerData } from "node:worker_threads";

export interface SandboxSetup {
  readonly file: string;
  readonly exportPath: readonly string[];
  readonly functionName: string;
  readonly functionArn: string;
  readonly memoryMb: number;
}

export interface SandboxRequest {
  readonly id: number;
  /** The event, as JSON (Lambda hands the handler a parsed copy of what was sent). */
  readonly event: string;
  readonly awsRequestId: string;
  /** When the invocation times out, in epoch milliseconds. */
  readonly deadline: number;
}

/** What the sandbox says once, at start: its code is loaded (`id` 0), or why it could not be. */
export type SandboxReply =
  | { readonly id: number; readonly ok: true; readonly payload: string }
  | {
      readonly id: number;
      readonly ok: false;
      readonly errorType: string;
      readonly errorMessage: string;
      /** The error was thrown while the module loaded (the cold start). */
      readonly init: boolean;
    };

type Handler = (event: unknown, context: unknown) => unknown;

const setup = workerData as SandboxSetup;
process.setSourceMapsEnabled(true);
// Every cold start compiles the same SDK modules: V8's code cache on disk (Node's compile cache,
// in the system's temporary folder) spares each sandbox after the first most of that work.
enableCompileCache();

/**
 * An ES module bundle is loaded as it is on disk, ahead of any loader hook (tsx rewrites the
 * dynamic imports of what it loads and gives it its own source map, which hides the bundle's).
 */
if (setup.file.endsWith(".mjs")) {
  const url = pathToFileURL(setup.file).href;
  registerHooks({
    load(requested, context, nextLoad) {
      if (requested !== url) return nextLoad(requested, context);
      return {
        format: "module",
        source: readFileSync(fileURLToPath(requested), "utf8"),
        shortCircuit: true,
      };
    },
  });
}

let loaded: Promise<Handler> | undefined;
function load(): Promise<Handler> {
  loaded ??= import(pathToFileURL(setup.file).href).then((module: Record<string, unknown>) => {
    // An ES module's export, or (a CommonJS module imported) a property of its module.exports.
    const exported = (from: unknown) =>
      setup.exportPath.reduce<unknown>(
        (found, key) => (found as Record<string, unknown> | undefined)?.[key],
        from,
      );
    const handler = exported(module) ?? exported(module.default);
    if (typeof handler !== "function")
      throw Object.assign(
        new Error(`${setup.file} exports no function ${setup.exportPath.join(".")}`),
        { name: "Runtime.HandlerNotFound" },
      );
    return handler as Handler;
  });
  return loaded;
}

// The cold start: the code is loaded before the first invocation is sent, as Lambda's init phase.
load().then(
  () => parentPort?.postMessage({ id: 0, ok: true, payload: "null" } satisfies SandboxReply),
  (error: unknown) => parentPort?.postMessage(failure(0, error, true)),
);

parentPort?.on("message", async (request: SandboxRequest) => {
  const handler = await load();
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: setup.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: setup.functionArn,
    memoryLimitInMB: String(setup.memoryMb),
    awsRequestId: request.awsRequestId,
    logGroupName: `/aws/lambda/${setup.functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, request.deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  let reply: SandboxReply;
  try {
    const answer = await handler(JSON.parse(request.event), context);
    // Lambda answers with the handler's result as JSON (`null` for nothing).
    reply = { id: request.id, ok: true, payload: JSON.stringify(answer ?? null) };
  } catch (error) {
    reply = failure(request.id, error, false);
  }
  parentPort?.postMessage(reply);
});

function failure(id: number, error: unknown, init: boolean): SandboxReply {
  const err = error instanceof Error ? error : new Error(String(error));
  const notFound = (err as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND";
  return {
    id,
    ok: false,
    errorType: notFound ? "Runtime.ImportModuleError" : err.name || "Error",
    errorMessage: err.message,
    init,
  };
}
