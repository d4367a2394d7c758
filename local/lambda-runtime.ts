import { randomUUID } from "node:crypto";
import { isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Context } from "aws-lambda";
import type { LocalFunction } from "./template.ts";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

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
 * Runs the real handler modules in this process, each with a Lambda-like context: request id,
 * function name and a remaining-time clock from the function's timeout in the template. Like
 * Lambda, a timeout ends the invocation with `Sandbox.Timedout`; unlike Lambda, the handler's
 * code is not frozen, so it is left to finish in the background.
 */
export class LocalLambdaRuntime {
  private readonly modules = new Map<string, Promise<Handler>>();
  /** What Lambda would bill: invocations, and GB-seconds (duration rounded up to 1 ms x memory). */
  readonly usage = { invocations: 0, gbSeconds: 0 };
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly functions: ReadonlyMap<string, LocalFunction>,
    private readonly projectRoot: string,
  ) {}

  /**
   * All handlers share this process, so they share one environment: the union of every function's
   * variables from the template. Two functions that disagree on a variable are refused.
   */
  static environmentOf(functions: ReadonlyMap<string, LocalFunction>): Record<string, string> {
    const merged: Record<string, string> = {};
    const owner: Record<string, string> = {};
    for (const fn of functions.values()) {
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

  has(functionArn: string): boolean {
    return this.functions.has(functionArn);
  }

  async invoke(functionArn: string, event: unknown): Promise<unknown> {
    const fn = this.functions.get(functionArn);
    if (!fn)
      throw new LambdaInvocationError(
        "ResourceNotFoundException",
        `Function not found: ${functionArn}`,
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
    let loaded = this.modules.get(fn.entry);
    if (!loaded) {
      loaded = import(
        pathToFileURL(isAbsolute(fn.entry) ? fn.entry : join(this.projectRoot, fn.entry)).href
      ).then((module: { handler?: Handler }) => {
        if (typeof module.handler !== "function") throw new Error(`${fn.entry} exports no handler`);
        return module.handler;
      });
      this.modules.set(fn.entry, loaded);
      // A module that failed to load is loaded again by the next invocation (a new cold start).
      loaded.catch(() => this.modules.delete(fn.entry));
    }
    return loaded;
  }
}
