import { AsyncLocalStorage } from "node:async_hooks";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
} from "aws-local-stepfunctions";
import { ERROR_NAMES } from "../functions/core/errors.ts";
import {
  STATUS_CHANGE_DETAIL_TYPE,
  type ExecutionStatus as StepFunctionsExecutionStatus,
} from "../functions/core/execution.ts";
import { AwsServiceError, type Operations } from "./aws-json-service.ts";
import { PRIVATE_DIR_MODE, writeFileAtomic } from "./files.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./template.ts";

/** The local service runs no redrive, so an execution is never PENDING_REDRIVE here. */
export type ExecutionStatus = Exclude<StepFunctionsExecutionStatus, "PENDING_REDRIVE">;

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate?: number;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
}

export interface HistoryEvent {
  readonly id: number;
  readonly previousEventId: number;
  readonly timestamp: number;
  readonly type: string;
  readonly [details: string]: unknown;
}

/** An "EventBridge" event for an execution status change, as AWS shapes it. */
export interface StatusChangeEvent {
  readonly version: "0";
  readonly id: string;
  readonly "detail-type": typeof STATUS_CHANGE_DETAIL_TYPE;
  readonly source: "aws.states";
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: string[];
  readonly detail: ExecutionRecord & {
    inputDetails: { included: boolean };
    outputDetails?: { included: boolean };
  };
}

/**
 * The execution a piece of the local state machine runner works for. aws-local-stepfunctions keeps
 * starting a Map's pending iterations after the execution is aborted (AWS never starts them), and
 * each iteration is a `StateMachine.run`: refused here once its execution has stopped.
 */
const runningExecution = new AsyncLocalStorage<ExecutionRecord>();
const libraryRun = StateMachine.prototype.run;
StateMachine.prototype.run = function guardedRun(
  this: StateMachine,
  ...args: Parameters<StateMachine["run"]>
) {
  const execution = runningExecution.getStore();
  if (execution && execution.status !== "RUNNING") {
    const result = Promise.reject(new ExecutionAbortedError());
    result.catch(() => undefined); // the Map has already failed; nobody else awaits this iteration
    return {
      abort: () => undefined,
      result,
      eventLogs: (async function* () {})(),
    } as unknown as ReturnType<StateMachine["run"]>;
  }
  return libraryRun.apply(this, args);
};

/** Invokes the Lambda behind a `lambda:invoke` task: (FunctionName, Payload) -> handler's result. */
export type LambdaInvoker = (functionArn: string, payload: unknown) => Promise<unknown>;

export interface LocalStepFunctionsOptions {
  readonly stateMachineArn: string;
  readonly definition: Record<string, any>;
  readonly invoke: LambdaInvoker;
  /** Where executions are kept between restarts; in memory when absent. */
  readonly dataFile?: string;
  readonly onStatusChange?: (event: StatusChangeEvent) => void;
}

/**
 * The error an execution that was running when the local stack stopped ends with at the next
 * start. On AWS an execution does not outlive its workers' disappearance; here they went with the
 * process, so the execution ends as AWS reports one whose tasks died: FAILED, with this error.
 */
export const RESTART_ERROR = "LocalStackRestarted";

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * The Step Functions API the handlers and tools use (StartExecution, StopExecution,
 * DescribeExecution, ListExecutions, GetExecutionHistory), running the synthesized definition
 * with aws-local-stepfunctions. `lambda:invoke` tasks call the local Lambda runtime and get the
 * integration's `{Payload, StatusCode}` answer, so ResultSelector paths work unchanged.
 */
export class LocalStepFunctions {
  private readonly machine: StateMachine;
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly histories = new Map<string, HistoryEvent[]>();
  private readonly running = new Map<string, { abort: () => void; done: Promise<void> }>();
  private readonly taskOverrides: Record<string, (input: any) => Promise<unknown>> = {};

  constructor(private readonly options: LocalStepFunctionsOptions) {
    this.machine = new StateMachine(
      options.definition as never,
      { validationOptions: { checkPaths: false, checkArn: false } } as never,
    );
    for (const [stateName, resource] of taskStates(options.definition)) {
      // A Lambda ARN as the resource: the function gets the state's input, and its result is the task's.
      if (/^arn:aws:lambda:[^:]+:[^:]+:function:/.test(resource)) {
        this.taskOverrides[stateName] = async (input: unknown) =>
          (await options.invoke(resource, input ?? {})) ?? null;
        continue;
      }
      this.taskOverrides[stateName] = async (input: {
        FunctionName?: string;
        Payload?: unknown;
      }) => {
        if (!input?.FunctionName)
          throw new Error(`task ${stateName} (${resource}) has no FunctionName`);
        const payload = await options.invoke(input.FunctionName, input.Payload ?? {});
        return { ExecutedVersion: "$LATEST", Payload: payload ?? null, StatusCode: 200 };
      };
    }
    this.load();
  }

  /**
   * Executions that were running when the stack last stopped end as FAILED (error
   * `LocalStackRestarted`), with a cause saying so: their Lambda invocations ended with the
   * process, so none of their tasks will ever report back.
   */
  recoverInterrupted(): ExecutionRecord[] {
    const interrupted = [...this.executions.values()].filter((e) => e.status === "RUNNING");
    for (const execution of interrupted) {
      const error = RESTART_ERROR;
      const cause =
        "The local stack stopped while this execution was running, and its tasks with it; it failed when the stack started again.";
      const history = this.histories.get(execution.executionArn) ?? [];
      this.histories.set(execution.executionArn, history);
      history.push({
        id: history.length + 1,
        previousEventId: history.length,
        timestamp: Date.now() / 1000,
        type: "ExecutionFailed",
        executionFailedEventDetails: { error, cause },
      });
      this.finish(execution, "FAILED", { error, cause });
    }
    return interrupted;
  }

  get operations(): Operations {
    return {
      StartExecution: (input) => this.startExecution(input),
      StopExecution: (input) => this.stopExecution(input),
      DescribeExecution: (input) => this.describeExecution(input),
      ListExecutions: (input) => this.listExecutions(input),
      GetExecutionHistory: (input) => this.getExecutionHistory(input),
      DescribeStateMachine: () => ({
        stateMachineArn: this.options.stateMachineArn,
        name: this.options.stateMachineArn.split(":").pop(),
        status: "ACTIVE",
        definition: JSON.stringify(this.options.definition),
        type: "STANDARD",
        roleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/stepbatch-local`,
        creationDate: 0,
      }),
    };
  }

  startExecution(input: { stateMachineArn?: string; name?: string; input?: string }) {
    this.assertStateMachine(input.stateMachineArn);
    const name = input.name ?? crypto.randomUUID();
    if (!NAME_PATTERN.test(name))
      throw new AwsServiceError("InvalidName", `Invalid Name: '${name}'`);
    const text = input.input ?? "{}";
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new AwsServiceError("InvalidExecutionInput", "Invalid execution input: not JSON");
    }
    if (Buffer.byteLength(text) > 256 * 1024)
      throw new AwsServiceError("InvalidExecutionInput", "Execution input exceeds 256 KiB");
    const executionArn = `${this.options.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // AWS: the same name and input while running is idempotent; anything else is refused.
      if (existing.status === "RUNNING" && existing.input === text)
        return { executionArn, startDate: existing.startDate };
      throw new AwsServiceError(
        "ExecutionAlreadyExists",
        `Execution Already Exists: '${executionArn}'`,
      );
    }
    const execution: ExecutionRecord = {
      executionArn,
      stateMachineArn: this.options.stateMachineArn,
      name,
      status: "RUNNING",
      startDate: Date.now() / 1000,
      input: text,
    };
    this.executions.set(executionArn, execution);
    this.histories.set(executionArn, []);
    this.save();
    this.run(execution, parsed);
    return { executionArn, startDate: execution.startDate };
  }

  stopExecution(input: { executionArn?: string; error?: string; cause?: string }) {
    const execution = this.get(input.executionArn);
    if (execution.status === "RUNNING") {
      this.finish(execution, "ABORTED", { error: input.error ?? "", cause: input.cause ?? "" });
      this.running.get(execution.executionArn)?.abort();
    }
    return { stopDate: execution.stopDate };
  }

  describeExecution(input: { executionArn?: string }) {
    return this.get(input.executionArn);
  }

  listExecutions(input: {
    stateMachineArn?: string;
    statusFilter?: ExecutionStatus;
    maxResults?: number;
    nextToken?: string;
  }) {
    this.assertStateMachine(input.stateMachineArn);
    const all = [...this.executions.values()]
      .filter((e) => !input.statusFilter || e.status === input.statusFilter)
      .sort((a, b) => b.startDate - a.startDate);
    const start = input.nextToken ? Number(input.nextToken) : 0;
    const size = input.maxResults && input.maxResults > 0 ? input.maxResults : 100;
    const page = all
      .slice(start, start + size)
      .map(({ executionArn, stateMachineArn, name, status, startDate, stopDate }) => ({
        executionArn,
        stateMachineArn,
        name,
        status,
        startDate,
        ...(stopDate ? { stopDate } : {}),
      }));
    return {
      executions: page,
      ...(start + size < all.length ? { nextToken: String(start + size) } : {}),
    };
  }

  getExecutionHistory(input: {
    executionArn?: string;
    maxResults?: number;
    nextToken?: string;
    reverseOrder?: boolean;
  }) {
    const execution = this.get(input.executionArn);
    const events = [...(this.histories.get(execution.executionArn) ?? [])];
    if (input.reverseOrder) events.reverse();
    const start = input.nextToken ? Number(input.nextToken) : 0;
    const size = input.maxResults && input.maxResults > 0 ? input.maxResults : 1000;
    return {
      events: events.slice(start, start + size),
      ...(start + size < events.length ? { nextToken: String(start + size) } : {}),
    };
  }

  /** The events of an execution's history from the `from`th on (kept in memory: none after a restart). */
  historySince(executionArn: string, from: number): readonly HistoryEvent[] {
    return (this.histories.get(this.get(executionArn).executionArn) ?? []).slice(from);
  }

  /** Aborts everything still running, for a clean shutdown (state is kept as RUNNING on disk). */
  async shutdown(): Promise<void> {
    const runs = [...this.running.values()];
    for (const run of runs) run.abort();
    await Promise.allSettled(runs.map((run) => run.done));
  }

  private run(execution: ExecutionRecord, input: unknown): void {
    const history = this.histories.get(execution.executionArn) as HistoryEvent[];
    const started = runningExecution.run(execution, () =>
      this.machine.run(
        input as never,
        {
          overrides: { taskResourceLocalHandlers: this.guardedOverrides(execution) },
          noThrowOnAbort: false,
          context: {
            Execution: {
              Id: execution.executionArn,
              Name: execution.name,
              Input: input,
              StartTime: new Date(execution.startDate * 1000).toISOString(),
              RoleArn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/stepbatch-local`,
            },
            StateMachine: {
              Id: this.options.stateMachineArn,
              Name: this.options.stateMachineArn.split(":").pop(),
            },
          },
        } as never,
      ),
    );
    const logEvents = (async () => {
      for await (const event of started.eventLogs as AsyncGenerator<any>)
        history.push(toHistoryEvent(event, history.length));
    })().catch(() => undefined);
    const done = (async () => {
      try {
        const output = await started.result;
        if (execution.status === "RUNNING")
          this.finish(execution, "SUCCEEDED", { output: JSON.stringify(output ?? null) });
      } catch (error) {
        if (execution.status !== "RUNNING") return; // stopped: already ABORTED
        if (error instanceof ExecutionAbortedError) return; // shutdown: stays RUNNING, recovered at the next start
        if (error instanceof ExecutionTimeoutError)
          this.finish(execution, "TIMED_OUT", {
            error: ERROR_NAMES.statesTimeout,
            cause: "The execution timed out",
          });
        else if (error instanceof ExecutionError) {
          const cause = (error as Error & { cause?: Error }).cause;
          this.finish(execution, "FAILED", {
            error: cause?.name ?? "States.Runtime",
            cause: cause?.message ?? error.message,
          });
        } else
          this.finish(execution, "FAILED", {
            error: "States.Runtime",
            cause: (error as Error).message,
          });
      } finally {
        await logEvents;
        this.running.delete(execution.executionArn);
      }
    })();
    this.running.set(execution.executionArn, { abort: started.abort, done });
  }

  /**
   * The task handlers for one execution, refusing to run once it has stopped: aws-local-stepfunctions
   * keeps starting a Map's pending iterations after an abort, which AWS never does.
   */
  private guardedOverrides(
    execution: ExecutionRecord,
  ): Record<string, (input: any) => Promise<unknown>> {
    return Object.fromEntries(
      Object.entries(this.taskOverrides).map(([name, run]) => [
        name,
        async (input: unknown) => {
          // Answer like a phase that found its job cancelled: the iteration ends at once, no handler runs.
          if (execution.status !== "RUNNING")
            return {
              ExecutedVersion: "$LATEST",
              Payload: { outcome: "cancelled", stopped: true },
              StatusCode: 200,
            };
          return run(input);
        },
      ]),
    );
  }

  private finish(
    execution: ExecutionRecord,
    status: ExecutionStatus,
    extra: Partial<ExecutionRecord>,
  ): void {
    Object.assign(execution, { status, stopDate: Date.now() / 1000, ...extra });
    const history = this.histories.get(execution.executionArn) ?? [];
    this.histories.set(execution.executionArn, history);
    if (status === "ABORTED") {
      history.push({
        id: history.length + 1,
        previousEventId: history.length,
        timestamp: execution.stopDate as number,
        type: "ExecutionAborted",
        executionAbortedEventDetails: { error: extra.error, cause: extra.cause },
      });
    }
    this.save();
    this.options.onStatusChange?.({
      version: "0",
      id: crypto.randomUUID(),
      "detail-type": STATUS_CHANGE_DETAIL_TYPE,
      source: "aws.states",
      account: LOCAL_ACCOUNT,
      time: new Date().toISOString(),
      region: LOCAL_REGION,
      resources: [execution.executionArn],
      detail: {
        ...execution,
        // EventBridge carries dates in milliseconds.
        startDate: Math.round(execution.startDate * 1000),
        stopDate: Math.round((execution.stopDate as number) * 1000),
        inputDetails: { included: true },
        ...(execution.output ? { outputDetails: { included: true } } : {}),
      },
    });
  }

  private get(executionArn: string | undefined): ExecutionRecord {
    const execution = executionArn ? this.executions.get(executionArn) : undefined;
    if (!execution)
      throw new AwsServiceError(
        "ExecutionDoesNotExist",
        `Execution Does Not Exist: '${executionArn}'`,
      );
    return execution;
  }

  private assertStateMachine(arn: string | undefined): void {
    if (arn !== this.options.stateMachineArn)
      throw new AwsServiceError(
        "StateMachineDoesNotExist",
        `State Machine Does Not Exist: '${arn}'`,
      );
  }

  private load(): void {
    const file = this.options.dataFile;
    if (!file || !existsSync(file)) return;
    const saved = JSON.parse(readFileSync(file, "utf8")) as { executions: ExecutionRecord[] };
    for (const execution of saved.executions)
      this.executions.set(execution.executionArn, execution);
  }

  private save(): void {
    const file = this.options.dataFile;
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
    writeFileAtomic(file, JSON.stringify({ executions: [...this.executions.values()] }));
  }
}

/** Every Task state (inside Maps and Parallels too), with its resource. */
function taskStates(definition: Record<string, any>): [string, string][] {
  const found: [string, string][] = [];
  const walk = (states: Record<string, any>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === "Task") found.push([name, String(state.Resource ?? "")]);
      if (state.ItemProcessor?.States) walk(state.ItemProcessor.States);
      if (state.Iterator?.States) walk(state.Iterator.States);
      for (const branch of state.Branches ?? []) walk(branch.States);
    }
  };
  walk(definition.States ?? {});
  return found;
}

/** Maps aws-local-stepfunctions' event log to AWS history event types. */
function toHistoryEvent(event: any, index: number): HistoryEvent {
  const base = {
    id: index + 1,
    previousEventId: index,
    timestamp: (event.timestamp ?? Date.now()) / 1000,
  };
  const stateType = event.state?.type as string | undefined;
  switch (event.type) {
    case "ExecutionStarted":
      return {
        ...base,
        type: "ExecutionStarted",
        executionStartedEventDetails: { input: JSON.stringify(event.input) },
      };
    case "ExecutionSucceeded":
      return {
        ...base,
        type: "ExecutionSucceeded",
        executionSucceededEventDetails: { output: JSON.stringify(event.output) },
      };
    case "ExecutionFailed":
      return {
        ...base,
        type: "ExecutionFailed",
        executionFailedEventDetails: { error: event.Error, cause: event.Cause },
      };
    case "ExecutionAborted":
      return { ...base, type: "ExecutionAborted" };
    case "ExecutionTimeout":
      return { ...base, type: "ExecutionTimedOut" };
    case "StateEntered":
      return {
        ...base,
        type: `${stateType}StateEntered`,
        stateEnteredEventDetails: {
          name: event.state.name,
          input: JSON.stringify(event.state.input),
        },
      };
    case "StateExited":
      return {
        ...base,
        type: `${stateType}StateExited`,
        stateExitedEventDetails: {
          name: event.state.name,
          output: JSON.stringify(event.state.output),
        },
      };
    case "StateFailed":
      return {
        ...base,
        type: stateType === "Task" ? "TaskFailed" : `${stateType}StateFailed`,
        name: event.state?.name,
        taskFailedEventDetails: {
          resourceType: "lambda",
          resource: "invoke",
          error: event.Error,
          cause: event.Cause,
        },
      };
    case "StateRetried":
      return { ...base, type: "TaskRetried", name: event.state?.name, retrier: event.retrier };
    case "StateCaught":
      return { ...base, type: "TaskCaught", name: event.state?.name };
    default:
      return {
        ...base,
        type: String(event.type),
        index: event.index,
        name: event.parentState?.name,
      };
  }
}
