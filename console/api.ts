import { StepbatchApiError, StepbatchClient } from "../client/stepbatch-client.ts";

/**
 * The stepbatch API, reached through the console's server: it adds the token for the signed-in
 * browser, so the page never holds it. The audit trail records the console as the actor.
 */
export const api = new StepbatchClient({ apiUrl: "/_console/api", actor: "stepbatch-console" });

export type StateStatus =
  | "in-progress"
  | "succeeded"
  | "failed"
  | "caught-error"
  | "stopped"
  | "not-started";

export interface StateActivity {
  readonly status: StateStatus;
  readonly entered: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly retried: number;
  readonly caught: number;
}

/**
 * An execution and what each of its states is doing (a local-only read: GET /_console/execution).
 * NOT_STARTED: the batch's execution has not started (yet), so no state has been entered.
 */
export interface ExecutionView {
  readonly executionArn: string;
  readonly status: "NOT_STARTED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";
  readonly startDate: string | null;
  readonly stopDate: string | null;
  readonly error: string | null;
  readonly cause: string | null;
  readonly historyKept: boolean;
  readonly definition: import("./execution-layout.ts").AslScope;
  readonly states: Readonly<Record<string, StateActivity>>;
}

export async function getExecution(executionArn: string): Promise<ExecutionView> {
  const response = await fetch(`/_console/execution?arn=${encodeURIComponent(executionArn)}`);
  const body = (await response.json()) as ExecutionView & {
    error?: { code: string; message: string };
  };
  if (!response.ok)
    throw new StepbatchApiError(
      response.status,
      body.error?.code ?? "ERROR",
      body.error?.message ?? response.statusText,
    );
  return body;
}

/** Where the batch's results are downloaded as one JSON file. */
export const resultsDownloadUrl = (batchId: string) =>
  `/_console/results/${encodeURIComponent(batchId)}`;

/** An error as a person reads it: the API's message, or what went wrong reaching it. */
export function messageOf(error: unknown): string {
  if (error instanceof StepbatchApiError && error.status === 401)
    return "Your session has ended: reload the page to sign in again.";
  return error instanceof Error ? error.message : String(error);
}
