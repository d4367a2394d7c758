import type { SelectionPreview } from "../functions/core/cancel.ts";
import type { BatchStatus, StopMode } from "../functions/core/model.ts";
import type { Results } from "../functions/core/results.ts";
import type { SubmitBatchBody } from "../functions/core/schemas.ts";
import type { JobFilter } from "../functions/core/selection.ts";
import type { SubmitResponse } from "../functions/core/submit.ts";
import type {
  batchListView,
  batchStatusView,
  deletedJobView,
  jobView,
} from "../functions/views/batch.ts";
import type {
  BatchCancelResponse,
  JobCancelResponse,
  SubsetCancelResponse,
} from "../functions/views/cancel.ts";
import type { receiptView } from "../functions/views/receipt.ts";
import type { resumeView } from "../functions/views/resume.ts";

// The API's answers, typed from the code that produces them (type-only imports: no server code).
export type BatchView = ReturnType<typeof batchStatusView>;
export type BatchList = ReturnType<typeof batchListView>;
export type JobView = ReturnType<typeof jobView>;
export type DeletedJob = ReturnType<typeof deletedJobView>;
export type ResultsView = Awaited<ReturnType<Results["page"]>>;
export type JobOutputView = Awaited<ReturnType<Results["jobOutput"]>>;
export type Consolidated = Awaited<ReturnType<Results["consolidate"]>>;
export type SubmitBody = SubmitBatchBody;
export type { BatchCancelResponse, SubmitResponse, SubsetCancelResponse };
export type JobCancelled = JobCancelResponse;
export type Receipt = ReturnType<typeof receiptView>;
export type Resumed = ReturnType<typeof resumeView>;
export type { JobFilter, SelectionPreview };

/** How a cancel stops what runs (see the API's `mode` and `graceSeconds`), and why. */
export interface CancelOptions {
  readonly reason?: string;
  readonly mode?: StopMode;
  readonly graceSeconds?: number;
}

const cancelBody = (options: CancelOptions) => ({
  ...(options.reason ? { reason: options.reason } : {}),
  ...(options.mode ? { mode: options.mode } : {}),
  ...(options.graceSeconds !== undefined ? { graceSeconds: options.graceSeconds } : {}),
});

/** The API answered with an error: `{"error": {"code", "message"}}` and an HTTP status. */
export class StepbatchApiError extends Error {
  override readonly name = "StepbatchApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** The API could not be reached at all. */
export class StepbatchConnectionError extends Error {
  override readonly name = "StepbatchConnectionError";
}

/**
 * The API did not answer in time. Unlike a connection error, the request may have arrived and may
 * still be applied: after a cancel times out, read the batch back before saying it failed.
 */
export class StepbatchTimeoutError extends Error {
  override readonly name = "StepbatchTimeoutError";
  constructor(
    readonly method: string,
    readonly path: string,
    readonly timeoutMs: number,
    apiUrl: string,
  ) {
    super(
      `the stepbatch API at ${apiUrl} did not answer ${method} ${path} within ${seconds(timeoutMs)}`,
    );
  }
}

/**
 * An id the client refuses before sending anything: empty, "." or "..", or with "/" or a control
 * character. Such an id cannot name anything, and in a URL path it would name another route
 * (fetch resolves "/batches/b/jobs/../cancel" to "/batches/b/cancel", the whole batch's cancel).
 */
export class InvalidIdError extends Error {
  override readonly name = "InvalidIdError";
  constructor(
    /** What the value was given as, e.g. "job id". */
    readonly kind: string,
    readonly value: string,
  ) {
    super(
      `${kind} '${printable(value)}' is not a ${kind}: it cannot be empty, "." or "..", or contain "/" or control characters`,
    );
  }
}

/** `30 s`, `0.5 s`: how the CLI and the MCP server say a duration. */
export const seconds = (ms: number): string => `${ms / 1000} s`;

/** The value, shortened, with control characters made visible (it is printed on one line). */
function printable(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 80)}...` : value;
  return shown.replace(
    /\p{Cc}/gu,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * One URL path segment that stays one segment and names what it was given: refuses what cannot
 * be an id, then percent-encodes everything but letters, digits and "-_!~*'()" ("." too, as %2E,
 * so no value is ever a dot segment that the URL parser would resolve).
 */
export function segment(kind: string, value: string): string {
  assertId(kind, value);
  return encodeURIComponent(value).replaceAll(".", "%2E");
}

/** A path segment decoded; a malformed escape is kept as it is (and then names nothing). */
export function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Refuses what cannot be an id: empty, ".", "..", or holding "/" or a control character. */
export function assertId(kind: string, value: string): void {
  if (
    value === "" ||
    value === "." ||
    value === ".." ||
    value.includes("/") ||
    /\p{Cc}/u.test(value)
  )
    throw new InvalidIdError(kind, value);
}

export const DEFAULT_TIMEOUT_MS = 30_000;
/** Cancels get longer: under load one can take more than 30 s, and it still takes effect. */
export const DEFAULT_CANCEL_TIMEOUT_MS = 60_000;

export interface StepbatchClientOptions {
  /** Base URL, e.g. http://127.0.0.1:3000 or https://abc.execute-api.us-east-1.amazonaws.com/v1 */
  readonly apiUrl: string;
  /**
   * The API token, sent as `Authorization: Bearer`. Left out where whatever sits between adds it
   * (the local console's server, for a signed-in browser).
   */
  readonly token?: string;
  /** Sent as X-Stepbatch-Actor: recorded in the audit trail as `claimedBy` (a claim, not `by`). */
  readonly actor?: string;
  /** Time limit of each request but cancels. @default 30_000 */
  readonly timeoutMs?: number;
  /** Time limit of a cancel request (batch, subset or job). @default 60_000 */
  readonly cancelTimeoutMs?: number;
}

/**
 * The one typed client of the stepbatch HTTP API, used by the CLI and the MCP server. Every
 * method is async, so an id it refuses rejects the promise like any other failure.
 */
export class StepbatchClient {
  private readonly baseUrl: string;

  constructor(private readonly options: StepbatchClientOptions) {
    this.baseUrl = options.apiUrl.replace(/\/+$/, "");
  }

  async submit(
    body: SubmitBody,
    options: { idempotencyKey?: string } = {},
  ): Promise<SubmitResponse> {
    return this.request("POST", "/batches", {
      body,
      headers: options.idempotencyKey ? { "idempotency-key": options.idempotencyKey } : {},
    });
  }

  async listBatches(
    filter: { status?: BatchStatus; limit?: number; cursor?: string } = {},
  ): Promise<BatchList> {
    return this.request("GET", `/batches${query(filter)}`);
  }

  /** A batch's status; its `jobs` list is paged (`jobsOffset`, `jobsLimit`, default 100). */
  async getBatch(
    batchId: string,
    page: { jobsOffset?: number; jobsLimit?: number } = {},
  ): Promise<BatchView> {
    return this.request("GET", `${batchPath(batchId)}${query(page)}`);
  }

  /** One page of results: the summary, and up to `limit` jobs with their outputs and first `items`. */
  async getResults(
    batchId: string,
    page: { limit?: number; cursor?: string; items?: number } = {},
  ): Promise<ResultsView> {
    return this.request("GET", `${batchPath(batchId)}/results${query(page)}`);
  }

  /** Every job with results, page after page (for writing them all to a file). */
  async *allResults(
    batchId: string,
    page: { limit?: number; items?: number } = {},
  ): AsyncGenerator<ResultsView> {
    let cursor: string | undefined;
    do {
      const view = await this.getResults(batchId, { ...page, ...(cursor ? { cursor } : {}) });
      yield view;
      cursor = view.nextCursor ?? undefined;
    } while (cursor);
  }

  /** One job's outputs, items (from `itemsOffset`, at most `items` per phase) and checkpoints. */
  async getJobOutput(
    batchId: string,
    jobId: string,
    options: { phase?: string; itemsOffset?: number; items?: number } = {},
  ): Promise<JobOutputView> {
    return this.request("GET", `${jobPath(batchId, jobId)}/output${query(options)}`);
  }

  async cancelBatch(batchId: string, options: CancelOptions = {}): Promise<BatchCancelResponse> {
    return this.request("POST", `${batchPath(batchId)}/cancel`, {
      body: cancelBody(options),
      timeoutMs: this.cancelTimeoutMs,
    });
  }

  async cancelJobs(
    batchId: string,
    jobs: readonly string[],
    options: CancelOptions = {},
  ): Promise<SubsetCancelResponse> {
    // The jobs travel in the body, where any string is safe: the API answers not_found for each.
    return this.request("POST", `${batchPath(batchId)}/cancel`, {
      body: { jobs, ...cancelBody(options) },
      timeoutMs: this.cancelTimeoutMs,
    });
  }

  /** Previews the jobs a filter chooses now, and the confirmToken that cancels exactly those. */
  async previewCancel(batchId: string, filter: JobFilter): Promise<SelectionPreview> {
    return this.request("POST", `${batchPath(batchId)}/cancel`, {
      body: { filter, dryRun: true },
      timeoutMs: this.cancelTimeoutMs,
    });
  }

  /** Cancels the jobs a filter chooses now, without a preview. */
  async cancelMatching(
    batchId: string,
    filter: JobFilter,
    options: CancelOptions = {},
  ): Promise<SubsetCancelResponse> {
    return this.request("POST", `${batchPath(batchId)}/cancel`, {
      body: { filter, ...cancelBody(options) },
      timeoutMs: this.cancelTimeoutMs,
    });
  }

  /** Cancels exactly the jobs a preview chose (previewCancel's confirmToken). */
  async cancelSelection(
    batchId: string,
    confirmToken: string,
    options: CancelOptions = {},
  ): Promise<SubsetCancelResponse> {
    return this.request("POST", `${batchPath(batchId)}/cancel`, {
      body: { confirmToken, ...cancelBody(options) },
      timeoutMs: this.cancelTimeoutMs,
    });
  }

  /** A cancel's receipt: each affected job's outcome as it settles (a page at a time). */
  async getCancellation(
    batchId: string,
    cancellationId: string,
    page: { limit?: number; cursor?: string } = {},
  ): Promise<Receipt> {
    return this.request(
      "GET",
      `${batchPath(batchId)}/cancellations/${segment("cancellation id", cancellationId)}${query(page)}`,
    );
  }

  /**
   * Runs the batch's cancelled jobs again (or those named, by id or name) in a new run: each
   * starts at the phase it stopped in, from its last checkpoint; jobs that succeeded never rerun.
   */
  async resume(
    batchId: string,
    options: { readonly jobs?: readonly string[]; readonly reason?: string } = {},
  ): Promise<Resumed> {
    return this.request("POST", `${batchPath(batchId)}/resume`, {
      body: {
        ...(options.jobs ? { jobs: [...options.jobs] } : {}),
        ...(options.reason ? { reason: options.reason } : {}),
      },
      timeoutMs: this.cancelTimeoutMs,
    });
  }

  async getJob(batchId: string, jobId: string): Promise<JobView> {
    return this.request("GET", jobPath(batchId, jobId));
  }

  async cancelJob(
    batchId: string,
    jobId: string,
    options: CancelOptions = {},
  ): Promise<JobCancelled> {
    return this.request("POST", `${jobPath(batchId, jobId)}/cancel`, {
      body: cancelBody(options),
      timeoutMs: this.cancelTimeoutMs,
    });
  }

  async deleteJob(batchId: string, jobId: string): Promise<DeletedJob> {
    return this.request("DELETE", jobPath(batchId, jobId));
  }

  async consolidate(batchId: string): Promise<Consolidated> {
    return this.request("POST", `${batchPath(batchId)}/consolidate`);
  }

  private get cancelTimeoutMs(): number {
    return this.options.cancelTimeoutMs ?? DEFAULT_CANCEL_TIMEOUT_MS;
  }

  private request<T>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<T> {
    return requestJson<T>(
      {
        baseUrl: this.baseUrl,
        ...(this.options.token ? { token: this.options.token } : {}),
        timeoutMs: options.timeoutMs ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        name: "the stepbatch API",
      },
      method,
      path,
      {
        ...(options.body !== undefined ? { body: options.body } : {}),
        headers: {
          ...(this.options.actor ? { "x-stepbatch-actor": this.options.actor } : {}),
          ...options.headers,
        },
      },
    );
  }
}

/** Where a request goes: the base URL, the token, the time limit, and a name for messages. */
export interface RequestTarget {
  readonly baseUrl: string;
  readonly token?: string;
  readonly timeoutMs: number;
  /** What is reached, for messages: "the stepbatch API". */
  readonly name: string;
}

/**
 * One JSON request with the bearer token. Failures are typed: StepbatchApiError for an error
 * answer (its code, message and details), StepbatchConnectionError when nothing answers,
 * StepbatchTimeoutError when no whole answer came in time.
 */
export async function requestJson<T>(
  target: RequestTarget,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<T> {
  const { body } = options;
  const { baseUrl, timeoutMs } = target;
  // A timeout while the answer's body arrives is a timeout too: the signal covers both.
  const timedOut = (error: unknown) =>
    (error as Error)?.name === "TimeoutError"
      ? new StepbatchTimeoutError(method, path, timeoutMs, baseUrl)
      : undefined;
  let response: Response;
  let text: string;
  try {
    response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
        accept: "application/json",
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...options.headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    const cause =
      (error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw (
      timedOut(error) ??
      new StepbatchConnectionError(`cannot reach ${target.name} at ${baseUrl} (${cause})`)
    );
  }
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (
      parsed as
        | { error?: { code?: string; message?: string; details?: Record<string, unknown> } }
        | undefined
    )?.error;
    throw new StepbatchApiError(
      response.status,
      error?.code ?? `HTTP_${response.status}`,
      error?.message ?? (text.slice(0, 200) || response.statusText),
      error?.details,
    );
  }
  return parsed as T;
}

/** `?a=1&b=2` from the defined values, or nothing. */
function query(values: Readonly<Record<string, string | number | undefined>>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values))
    if (value !== undefined) params.set(key, String(value));
  return params.size > 0 ? `?${params}` : "";
}

const batchPath = (batchId: string) => `/batches/${segment("batch id", batchId)}`;
const jobPath = (batchId: string, jobId: string) =>
  `${batchPath(batchId)}/jobs/${segment("job id", jobId)}`;
