import { randomUUID } from "node:crypto";
import { extname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { SandboxReply, SandboxRequest, SandboxSetup } from "./lambda-sandbox.ts";
import type { LocalFunction } from "./template.ts";

/** The sandbox's entry, beside this module (`.ts` from the sources, `.js` once built). */
const SANDBOX_FILE = fileURLToPath(
  new URL(`./lambda-sandbox${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

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

export interface LocalLambdaRuntimeOptions {
  /**
   * What each function's environment holds beside its own variables from the template: where the
   * services are, the region, its credentials. @default nothing more
   */
  readonly environmentOf?: (fn: LocalFunction) => Readonly<Record<string, string>>;
  /**
   * Sandboxes one function may have at once; more invocations at once wait for one to be free
   * (Lambda would start more: this keeps a burst within one machine's means). @default 10
   */
  readonly maxSandboxesPerFunction?: number;
  /** How long an idle sandbox stays warm before it is ended. @default 60 s */
  readonly keepWarmMs?: number;
  /**
   * Receives what a function writes to its standard output and error (its CloudWatch log), a line
   * at a time. @default written to this process's standard output and error
   */
  readonly functionLog?: FunctionLog;
}

/** One line a function wrote (`stream`: its standard output or error). */
export type FunctionLog = (line: {
  readonly functionName: string;
  readonly stream: "stdout" | "stderr";
  readonly text: string;
}) => void;

const writeToThisProcess: FunctionLog = ({ stream, text }) =>
  (stream === "stdout" ? process.stdout : process.stderr).write(`${text}\n`);

const DEFAULT_MAX_SANDBOXES = 10;

/** A function's sandboxes: how many exist, the idle ones, and the invocations waiting for one. */
interface Pool {
  live: number;
  readonly warm: Sandbox[];
  readonly waiting: (() => void)[];
}

/** What Lambda sets in every function's environment; PATH, LANG and TZ come from this machine. */
function lambdaVariables(fn: LocalFunction): Record<string, string> {
  const host: Record<string, string> = {};
  for (const name of ["PATH", "LANG", "TZ"]) {
    const value = process.env[name];
    if (value !== undefined) host[name] = value;
  }
  return {
    ...host,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: "local",
  };
}

/**
 * Runs the functions' code as CDK built it (each bundle, as it would be deployed), each invocation
 * in a sandbox of its function: a worker thread with only the environment the template gives the
 * function (plus what Lambda sets and where the local services are), its own module state, and a
 * V8 heap limited to the function's memory. A sandbox runs one invocation at a time and is reused
 * while warm; a second invocation at the same time gets a sandbox of its own (a cold start), as
 * on Lambda, up to `maxSandboxesPerFunction`, past which invocations wait for a sandbox to be
 * free. An invocation past its timeout ends with `Sandbox.Timedout`, and its sandbox is
 * terminated, so its code really stops. Source maps are on, so stack traces name the sources.
 */
export class LocalLambdaRuntime {
  /** What Lambda would bill: invocations, and GB-seconds (duration rounded up to 1 ms x memory). */
  readonly usage = { invocations: 0, gbSeconds: 0, coldStarts: 0 };
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly pools = new Map<string, Pool>();
  private readonly all = new Set<Sandbox>();
  private readonly byName: ReadonlyMap<string, LocalFunction>;
  private closed = false;

  /** `functions` by ARN. */
  constructor(
    private readonly functions: ReadonlyMap<string, LocalFunction>,
    private readonly options: LocalLambdaRuntimeOptions = {},
  ) {
    this.byName = new Map([...functions.values()].map((fn) => [fn.name, fn]));
  }

  /** A function by its ARN or its name. */
  has(functionArnOrName: string): boolean {
    return this.find(functionArnOrName) !== undefined;
  }

  /** A function by its ARN or its name. */
  functionOf(functionArnOrName: string): LocalFunction | undefined {
    return this.find(functionArnOrName);
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
    if ("unavailable" in fn.code)
      throw new LambdaInvocationError(
        "Runtime.ImportModuleError",
        `function ${fn.logicalId} cannot run on the local stack: ${fn.code.unavailable}`,
      );
    if (this.closed)
      throw new LambdaInvocationError("ServiceException", "the local stack is stopping");
    const run = this.run(fn, fn.code, event);
    this.track(run);
    return run;
  }

  private async run(
    fn: LocalFunction,
    code: { file: string; exportPath: readonly string[] },
    event: unknown,
  ): Promise<unknown> {
    this.usage.invocations++;
    const pool = this.poolOf(fn);
    const sandbox = await this.acquire(fn, code, pool);
    try {
      await sandbox.started(fn.timeoutSeconds);
    } catch (error) {
      this.release(pool, sandbox);
      throw error;
    }
    const startedAt = performance.now();
    try {
      return await sandbox.invoke(event, fn.timeoutSeconds);
    } finally {
      this.usage.gbSeconds +=
        (Math.ceil(performance.now() - startedAt) / 1000) * (fn.memoryMb / 1024);
      this.release(pool, sandbox);
    }
  }

  private poolOf(fn: LocalFunction): Pool {
    let pool = this.pools.get(fn.arn);
    if (!pool) {
      pool = { live: 0, warm: [], waiting: [] };
      this.pools.set(fn.arn, pool);
    }
    return pool;
  }

  /** A warm sandbox, else a new one, else (at the limit) the next one free. */
  private async acquire(
    fn: LocalFunction,
    code: { file: string; exportPath: readonly string[] },
    pool: Pool,
  ): Promise<Sandbox> {
    const limit = this.options.maxSandboxesPerFunction ?? DEFAULT_MAX_SANDBOXES;
    for (;;) {
      const warm = pool.warm.pop();
      if (warm?.usable) {
        warm.holdOn();
        return warm;
      }
      if (warm) {
        this.end(pool, warm);
        continue;
      }
      if (pool.live < limit) {
        pool.live++;
        return this.coldStart(fn, code, pool);
      }
      await new Promise<void>((resolve) => pool.waiting.push(resolve));
      if (this.closed)
        throw new LambdaInvocationError("ServiceException", "the local stack is stopping");
    }
  }

  /** Back to the warm pool when Lambda would reuse it; ended otherwise. The next waiter goes on. */
  private release(pool: Pool, sandbox: Sandbox): void {
    if (sandbox.usable && !this.closed) {
      pool.warm.push(sandbox);
      sandbox.idle(this.options.keepWarmMs ?? 60_000, () => {
        const at = pool.warm.indexOf(sandbox);
        if (at !== -1) pool.warm.splice(at, 1);
        this.end(pool, sandbox);
      });
    } else {
      this.end(pool, sandbox);
    }
    pool.waiting.shift()?.();
  }

  private coldStart(
    fn: LocalFunction,
    code: { file: string; exportPath: readonly string[] },
    pool: Pool,
  ) {
    this.usage.coldStarts++;
    const sandbox = new Sandbox(
      { ...code, functionName: fn.name, functionArn: fn.arn, memoryMb: fn.memoryMb },
      {
        ...lambdaVariables(fn),
        ...fn.environment,
        ...this.options.environmentOf?.(fn),
      },
      this.options.functionLog ?? writeToThisProcess,
    );
    sandbox.onDeath = () => {
      // Dead while warm (a timer of its code threw after it answered): out of the pool at once.
      const at = pool.warm.indexOf(sandbox);
      if (at === -1) return; // busy: its invocation's release ends it
      pool.warm.splice(at, 1);
      this.end(pool, sandbox);
      pool.waiting.shift()?.();
    };
    this.all.add(sandbox);
    return sandbox;
  }

  private end(pool: Pool, sandbox: Sandbox): void {
    if (!this.all.delete(sandbox)) return;
    pool.live--;
    void sandbox.terminate();
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

  /** Ends every sandbox, and what still runs in them; later invocations are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.pools.values()) for (const wake of pool.waiting.splice(0)) wake();
    this.pools.clear();
    await Promise.all([...this.all].map((sandbox) => sandbox.terminate()));
    this.all.clear();
  }

  private track(run: Promise<unknown>): void {
    this.inFlight.add(run);
    const done = () => this.inFlight.delete(run);
    run.then(done, done);
  }
}

/** One execution environment: a worker thread running one function's code. */
class Sandbox {
  readonly ready: Promise<void>;
  /** False once it failed in a way Lambda would not reuse it after (timeout, crash, exit). */
  usable = true;
  private readonly worker: Worker;
  private nextId = 1;
  private current:
    | { id: number; resolve: (value: unknown) => void; reject: (error: Error) => void }
    | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  /** Told when the sandbox dies by itself (a crash, an exit), so a warm one is never handed out dead. */
  onDeath: () => void = () => undefined;

  constructor(setup: SandboxSetup, environment: Record<string, string>, log: FunctionLog) {
    this.worker = new Worker(SANDBOX_FILE, {
      workerData: setup,
      env: environment,
      stdout: true,
      stderr: true,
      // Node alone loads the function's code: no loader of this process (tsx) rewrites it.
      execArgv: [],
      resourceLimits: { maxOldGenerationSizeMb: Math.max(setup.memoryMb, 64) },
    });
    for (const stream of ["stdout", "stderr"] as const)
      createInterface({ input: this.worker[stream], crlfDelay: Number.POSITIVE_INFINITY }).on(
        "line",
        (text) => log({ functionName: setup.functionName, stream, text }),
      );
    let started: (() => void) | undefined;
    let failedToStart: ((error: Error) => void) | undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      failedToStart = reject;
    });
    this.worker.on("message", (reply: SandboxReply) => {
      if (reply.id === 0) {
        if (reply.ok) started?.();
        else {
          this.usable = false;
          failedToStart?.(new LambdaInvocationError(reply.errorType, reply.errorMessage));
        }
        return;
      }
      const current = this.current;
      if (current?.id !== reply.id) return;
      this.current = undefined;
      if (reply.ok) current.resolve(JSON.parse(reply.payload));
      else current.reject(new LambdaInvocationError(reply.errorType, reply.errorMessage));
    });
    // A crash (an uncaught exception, an unhandled rejection, memory exhausted) or an exit ends
    // the sandbox and whatever it was running, as it ends a Lambda execution environment.
    const crashed = (error: LambdaInvocationError) => {
      const wasUsable = this.usable;
      this.usable = false;
      if (wasUsable) this.onDeath();
      failedToStart?.(error);
      const current = this.current;
      this.current = undefined;
      current?.reject(error);
    };
    this.worker.on("error", (error: Error & { code?: string }) =>
      crashed(
        error.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? new LambdaInvocationError(
              "Runtime.OutOfMemory",
              `Runtime exited: the function used more than its ${setup.memoryMb} MB`,
            )
          : new LambdaInvocationError(error.name || "Error", error.message),
      ),
    );
    this.worker.on("exit", (exitCode) =>
      crashed(
        new LambdaInvocationError(
          "Runtime.ExitError",
          `Runtime exited with error: exit status ${exitCode}`,
        ),
      ),
    );
  }

  /**
   * Resolves once its code is loaded (its init), or fails: with the error its module threw, or
   * `Sandbox.Timedout` when loading takes the whole invocation's time (the thread is then ended).
   */
  async started(timeoutSeconds: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const tooLong = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.usable = false;
        void this.worker.terminate();
        reject(
          new LambdaInvocationError(
            "Sandbox.Timedout",
            `Task timed out after ${timeoutSeconds.toFixed(2)} seconds (while its code loaded)`,
          ),
        );
      }, timeoutSeconds * 1000);
    });
    try {
      await Promise.race([this.ready, tooLong]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Keeps this process alive while the sandbox works. */
  holdOn(): void {
    clearTimeout(this.idleTimer);
    this.worker.ref();
  }

  /** Lets the process exit while the sandbox waits, and ends it after `ms` idle. */
  idle(ms: number, end: () => void): void {
    this.worker.unref();
    this.idleTimer = setTimeout(end, ms);
    this.idleTimer.unref();
  }

  invoke(event: unknown, timeoutSeconds: number): Promise<unknown> {
    const id = this.nextId++;
    const timeoutMs = timeoutSeconds * 1000;
    const request: SandboxRequest = {
      id,
      event: JSON.stringify(event ?? null),
      awsRequestId: randomUUID(),
      deadline: Date.now() + timeoutMs,
    };
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Lambda freezes a timed-out invocation; here its thread is ended, and the sandbox with it.
        this.usable = false;
        this.current = undefined;
        reject(
          new LambdaInvocationError(
            "Sandbox.Timedout",
            `Task timed out after ${timeoutSeconds.toFixed(2)} seconds`,
          ),
        );
        void this.worker.terminate();
      }, timeoutMs);
      this.current = {
        id,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.worker.postMessage(request);
    });
  }

  async terminate(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.usable = false;
    await this.worker.terminate();
  }
}
