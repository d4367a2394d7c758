import { DescribeExecutionCommand, SFNClient, StopExecutionCommand } from "@aws-sdk/client-sfn";
import type { LocalStack } from "../../local/stack.ts";
import { waitFor } from "./wait.ts";

export { waitFor };

/**
 * The stack under test: a deployed one (E2E_API_URL, E2E_TOKEN; Step Functions reached with the
 * usual AWS configuration) or, by default, the embedded local stack started in this process on a
 * free port, in memory.
 */
export interface E2ETarget {
  readonly apiUrl: string;
  readonly token: string;
  readonly sfn: SFNClient;
  readonly local?: LocalStack;
  close(): Promise<void>;
}

export async function startTarget(): Promise<E2ETarget> {
  const apiUrl = process.env.E2E_API_URL;
  if (apiUrl) {
    const token = process.env.E2E_TOKEN;
    if (!token) throw new Error("E2E_API_URL is set but E2E_TOKEN is not");
    return {
      apiUrl: apiUrl.replace(/\/+$/, ""),
      token,
      sfn: new SFNClient({}),
      close: async () => undefined,
    };
  }
  const { startLocalStack } = await import("../../local/stack.ts");
  const local = await startLocalStack({ port: 0 });
  const sfn = new SFNClient({ endpoint: local.endpoints.stepfunctions });
  return { apiUrl: local.apiUrl, token: local.token, sfn, local, close: () => local.stop() };
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: any;
}

/** A tiny HTTP client for the API; `token: null` sends no token at all. */
export function client(target: E2ETarget) {
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    options: { token?: string | null; headers?: Record<string, string>; raw?: string } = {},
  ): Promise<HttpAnswer> => {
    const token = options.token === undefined ? target.token : options.token;
    const response = await fetch(`${target.apiUrl}${path}`, {
      method,
      headers: {
        ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined || options.raw !== undefined
          ? { "content-type": "application/json" }
          : {}),
        ...options.headers,
      },
      ...(options.raw !== undefined
        ? { body: options.raw }
        : body !== undefined
          ? { body: JSON.stringify(body) }
          : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text, the test will say so
    }
    return { status: response.status, body: parsed };
  };
  return {
    call,
    submit: (body: unknown, headers?: Record<string, string>) =>
      call("POST", "/batches", body, headers ? { headers } : {}),
    batch: (batchId: string) => call("GET", `/batches/${batchId}`),
    results: (batchId: string) => call("GET", `/batches/${batchId}/results`),
    job: (batchId: string, jobId: string) => call("GET", `/batches/${batchId}/jobs/${jobId}`),
    cancel: (batchId: string, body?: unknown) => call("POST", `/batches/${batchId}/cancel`, body),
    cancelJob: (batchId: string, jobId: string, body?: unknown) =>
      call("POST", `/batches/${batchId}/jobs/${jobId}/cancel`, body),
  };
}

export type Api = ReturnType<typeof client>;

const TERMINAL = ["succeeded", "completed_with_errors", "failed", "cancelled"];

export async function waitForBatchEnd(api: Api, batchId: string, timeoutMs = 60_000): Promise<any> {
  return waitFor(
    async () => {
      const { body } = await api.batch(batchId);
      // A terminal batch whose jobs all ended too (a job in its final commit may finish just after).
      return TERMINAL.includes(body?.status) && body.progress.queued + body.progress.running === 0
        ? body
        : undefined;
    },
    `batch ${batchId} to end`,
    timeoutMs,
  );
}

export async function executionOf(target: E2ETarget, executionArn: string) {
  return target.sfn.send(new DescribeExecutionCommand({ executionArn }));
}

/** The execution once it has ended (finalize answers a moment before its execution ends). */
export function waitForExecutionEnd(target: E2ETarget, executionArn: string) {
  return waitFor(async () => {
    const described = await executionOf(target, executionArn);
    return described.status === "RUNNING" ? undefined : described;
  }, `execution ${executionArn} to end`);
}

/** Waits until `count` jobs of the batch run at once. */
export function waitForRunning(api: Api, batchId: string, count: number, timeoutMs = 20_000) {
  return waitFor(
    async () => ((await api.batch(batchId)).body.progress.running === count ? true : undefined),
    `${count} job(s) of ${batchId} to run`,
    timeoutMs,
    50,
  );
}

/** The batch once its cancel has quiesced: its last phase has stopped. */
export function waitForQuiesce(api: Api, batchId: string): Promise<any> {
  return waitFor(
    async () => {
      const view = (await api.batch(batchId)).body;
      return view.quiescedAt ? view : undefined;
    },
    `batch ${batchId} to quiesce`,
    20_000,
    50,
  );
}

export async function stopFromConsole(target: E2ETarget, executionArn: string, cause: string) {
  await target.sfn.send(new StopExecutionCommand({ executionArn, cause }));
}

/** A demo job: `pages` pages per phase over `workMs` per phase. */
export const job = (
  name: string,
  input: { pages?: number; workMs?: number; failIn?: string } = {},
) => ({ name, input });
