import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoBatchStore } from "../functions/adapters/dynamodb/batch-store.ts";
import type { ExecutionEngine } from "../functions/core/ports.ts";
import { type ExecutionInput, SubmitService } from "../functions/core/submit.ts";
import type { LocalStack } from "../local/stack.ts";
import { LocalStepFunctions } from "../local/stepfunctions.ts";

/**
 * The naive design, run for real beside stepbatch on the same local stack: one Standard execution
 * per job, each running the job's phases as the same chain of states (the batch state machine's
 * per-job iteration), on the same phase functions, with no Map and no Finalize. Its batches are
 * written by stepbatch's own submit, whose engine here starts one execution per job; stopping a
 * batch would take one StopExecution per job.
 */
export class NaiveDesign {
  readonly stateMachineArn: string;
  readonly machine: LocalStepFunctions;
  private readonly submitter: SubmitService;
  private readonly executions: string[] = [];

  constructor(stack: LocalStack) {
    this.stateMachineArn = stack.stateMachineArn.replace(
      /:stateMachine:.*$/,
      ":stateMachine:naive-one-execution-per-job",
    );
    this.machine = new LocalStepFunctions({
      stateMachineArn: this.stateMachineArn,
      definition: perJobDefinition(stack.stateMachineDefinition),
      invoke: stack.invokeAsStateMachine,
    });
    const tableName = [...stack.functions.values()].find((fn) => fn.environment.TABLE_NAME)
      ?.environment.TABLE_NAME;
    if (!tableName) throw new Error("no function of the app names its state table (TABLE_NAME)");
    const db = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: stack.endpoints.dynamodb,
        region: "us-east-1",
        credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
      }),
      { marshallOptions: { removeUndefinedValues: true } },
    );
    const executionPrefix = this.stateMachineArn.replace(":stateMachine:", ":execution:");
    const engine: ExecutionEngine = {
      executionArnOf: (name) => `${executionPrefix}:${name}`,
      startExecution: async (name, input) => {
        const { batchId, jobs } = input as ExecutionInput;
        for (const { jobId } of jobs) {
          const started = this.machine.startExecution({
            stateMachineArn: this.stateMachineArn,
            name: `${batchId}-${jobId}`.slice(-80),
            input: JSON.stringify({ batchId, jobId }),
          });
          this.executions.push(started.executionArn);
        }
        return `${executionPrefix}:${name}`;
      },
      describeExecution: async () => undefined,
      stopExecution: async () => undefined,
    };
    this.submitter = new SubmitService(new DynamoBatchStore(db, tableName), engine);
  }

  /** Submits `jobs` and starts an execution for each; resolves with them once every one has ended. */
  async run(
    jobs: readonly { name: string; input: Record<string, unknown> }[],
    onProgress?: (ended: number) => void,
  ): Promise<{ executionArns: string[]; statuses: Record<string, number> }> {
    const from = this.executions.length;
    await this.submitter.submit({ name: "naive", jobs: [...jobs] });
    const executionArns = this.executions.slice(from);
    for (;;) {
      const statuses = countBy(
        executionArns.map((arn) => this.machine.describeExecution({ executionArn: arn }).status),
      );
      onProgress?.(executionArns.length - (statuses.RUNNING ?? 0));
      if (!statuses.RUNNING) return { executionArns, statuses };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** States entered (and retries) across these executions: what Step Functions bills. */
  transitionsOf(executionArns: readonly string[]): number {
    return executionArns.reduce((sum, executionArn) => {
      const events = this.machine.getExecutionHistory({
        executionArn,
        maxResults: 1_000_000,
      }).events;
      return (
        sum +
        events.filter((e) => e.type.endsWith("StateEntered") || e.type === "TaskRetried").length
      );
    }, 0);
  }

  shutdown(): Promise<void> {
    return this.machine.shutdown();
  }
}

/** The batch state machine's per-job iteration (its Map's item processor) as a state machine of its own. */
function perJobDefinition(batchDefinition: Readonly<Record<string, unknown>>) {
  const states = Object.values(
    (batchDefinition as { States: Record<string, { Type: string; ItemProcessor?: object }> })
      .States,
  );
  const map = states.find((state) => state.Type === "Map");
  if (!map?.ItemProcessor) throw new Error("the batch state machine has no Map over its jobs");
  const { StartAt, States } = map.ItemProcessor as { StartAt: string; States: object };
  return { Comment: "naive design: one execution per job", StartAt, States };
}

const countBy = (values: readonly string[]) =>
  values.reduce<Record<string, number>>((counts, value) => {
    counts[value] = (counts[value] ?? 0) + 1;
    return counts;
  }, {});
