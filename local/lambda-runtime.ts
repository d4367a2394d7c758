import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { registerHooks } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Context } from "aws-lambda";
import type { LocalFunction } from "./template.ts";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * The ES module bundles the runtime loads are loaded as they are on disk, ahead of any other
 * loader hooks in the process: tsx (`npm start`) rewrites the dynamic imports of every ES module it
 * loads and gives it its own source map, which hides the bundle's map to the sources.
 */
const bundleUrls = new Set<string>();
let hooked = false;
function loadBundlesAsTheyAre(): void {
  if (hooked) return;
  hooked = true;
  registerHooks({
    load(url, context, nextLoad) {
      if (!bundleUrls.has(url)) return nextLoad(url, context);
      return {
        format: "module",
        source: readFileSync(fileURLToPath(url), "utf8"),
        shortCircuit: true,
      };
    },
  });
}

/** An invocation error, shaped as Lambda reports it: `Error` is the type, `Cause` the JSON payload. */
export class LambdaInvocationError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    super(JSON.stringify({ errorType, errorMessage }));
    this.name = errorType;
  }
}

/**
 * Runs the functions' code as CDK built it (each bundle, as it would be deployed) in this process,
 * each with a Lambda-like context: request id, function name and a remaining-time clock from the
 * function's timeout in the template. Like Lambda, a timeout ends the invocation with
 * `Sandbox.Timedout`; unlike Lambda, the handler's code is not frozen, so it is left to finish in
 * the background. Source maps are enabled, so stack traces name the sources, not the bundles.
 */
export class LocalLambdaRuntime {
  private readonly modules = new Map<string, Promise<Handler>>();
  /** What Lambda would bill: invocations, and GB-seconds (duration rounded up to 1 ms x memory). */
  readonly usage = { invocations: 0, gbSeconds: 0 };
  private readonly inFlight = new Set<Promise<unknown>>();

  private readonly byName: ReadonlyMap<string, LocalFunction>;

  /** `functions` by ARN. */
  constructor(private readonly functions: ReadonlyMap<string, LocalFunction>) {
    this.byName = new Map([...functions.values()].map((fn) => [fn.name, fn]));
  }

  /**
   * All handlers share this process, so they share one environment: the union of every function's
   * variables from the template. Two functions that disagree on a variable are refused.
   */
  static environmentOf(functions: ReadonlyMap<string, LocalFunction>): Record<string, string> {
    const merged: Record<string, string> = {};
    const owner: Record<string, string> = {};
    for (const fn of functions.values()) {
      if ("unavailable" in fn.code) continue; // never runs here
      for (const [key, value] of Object.entries(fn.environment)) {
        if (key in merged && merged[key] !== value) {
          throw new Error(
            `functions ${owner[key]} and ${fn.logicalId} set ${key} differently; the local stack runs them in one process`,
          );
        }
        merged[key] = value;
        owner[key] = fn.logicalId;
      }
    }
    return merged;
  }

  /** A function by its ARN or its name. */
  has(functionArnOrName: string): boolean {
    return this.find(functionArnOrName) !== undefined;
  }

  private find(functionArnOrName: string): LocalFunction | undefined {
    return this.functions.get(functionArnOrName) ?? this.byName.get(functionArnOrName);
  }

  async invoke(functionArnOrName: string, event: unknown): Promise<unknown> {
    const fn = this.find(functionArnOrName);
    if (!fn)
      throw new LambdaInvocationError(
        "ResourceNotFoundException",
        `Function not found: ${functionArnOrName}`,
      );
    const handler = await this.load(fn);
    const timeoutMs = fn.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    const context: Context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: fn.logicalId,
      functionVersion: "$LATEST",
      invokedFunctionArn: fn.arn,
      memoryLimitInMB: String(fn.memoryMb),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${fn.logicalId}`,
      logStreamName: "local",
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    const startedAt = performance.now();
    this.usage.invocations++;
    const run = handler(event, context);
    this.track(run);
    const bill = () => {
      this.usage.gbSeconds +=
        (Math.ceil(performance.now() - startedAt) / 1000) * (fn.memoryMb / 1024);
    };
    run.then(bill, bill);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new LambdaInvocationError(
              "Sandbox.Timedout",
              `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([run, timeout]);
    } catch (error) {
      if (error instanceof LambdaInvocationError) throw error;
      const err = error as Error;
      throw new LambdaInvocationError(err.name || "Error", err.message);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for invocations still running (up to `ms`), for a clean shutdown. */
  async drain(ms: number): Promise<void> {
    const pending = [...this.inFlight];
    if (pending.length === 0) return;
    await Promise.race([
      Promise.allSettled(pending),
      new Promise((resolve) => setTimeout(resolve, ms)),
    ]);
  }

  private track(run: Promise<unknown>): void {
    this.inFlight.add(run);
    run.then(
      () => this.inFlight.delete(run),
      () => this.inFlight.delete(run),
    );
  }

  private load(fn: LocalFunction): Promise<Handler> {
    const code = fn.code;
    if ("unavailable" in code)
      return Promise.reject(
        new LambdaInvocationError(
          "Runtime.ImportModuleError",
          `function ${fn.logicalId} cannot run on the local stack: ${code.unavailable}`,
        ),
      );
    let loaded = this.modules.get(code.file);
    if (!loaded) {
      process.setSourceMapsEnabled(true);
      const url = pathToFileURL(code.file).href;
      if (code.file.endsWith(".mjs")) {
        loadBundlesAsTheyAre();
        bundleUrls.add(url);
      }
      loaded = import(url).then((module: Record<string, unknown>) => {
        // An ES module's export, or (a CommonJS module imported) a property of its module.exports.
        const exported = (from: unknown) =>
          code.exportPath.reduce<unknown>(
            (found, key) => (found as Record<string, unknown> | undefined)?.[key],
            from,
          );
        const handler = exported(module) ?? exported(module.default);
        if (typeof handler !== "function")
          throw new LambdaInvocationError(
            "Runtime.HandlerNotFound",
            `${code.file} exports no function ${code.exportPath.join(".")}`,
          );
        return handler as Handler;
      });
      this.modules.set(code.file, loaded);
      // A module that failed to load is loaded again by the next invocation (a new cold start).
      loaded.catch(() => this.modules.delete(code.file));
    }
    return loaded;
  }
}
