import {
  assertId,
  DEFAULT_TIMEOUT_MS,
  StepbatchApiError,
  StepbatchConnectionError,
  StepbatchTimeoutError,
} from "../client/stepbatch-client.ts";

/** An EventBridge Scheduler schedule of the running app, as `GET /_local/schedules` lists it. */
export interface LocalScheduleView {
  /** Its name as deployed. */
  name: string;
  expression: string;
  timezone: string;
  enabled: boolean;
  /** The target input (parsed when it is JSON), with `<aws.scheduler.*>` placeholders in it. */
  input: unknown;
}

/** What running one occurrence answers: the schedule, the occurrence, and what its target returned. */
export type ScheduleRun = { schedule: string; scheduledTime: string } & Record<string, unknown>;

export interface LocalStackClientOptions {
  readonly apiUrl: string;
  readonly token: string;
  /** @default 30_000 */
  readonly timeoutMs?: number;
}

/**
 * The client of the local stack's own routes (`/_local/...`, served next to the API and with the
 * same token): no deployed stack has them. Failures are the API client's errors, so they read the
 * same: StepbatchApiError for an error answer, StepbatchConnectionError, StepbatchTimeoutError.
 */
export class LocalStackClient {
  private readonly baseUrl: string;

  constructor(private readonly options: LocalStackClientOptions) {
    this.baseUrl = options.apiUrl.replace(/\/+$/, "");
  }

  /** The schedules of the running app. */
  async schedules(): Promise<{ schedules: LocalScheduleView[] }> {
    return this.request("GET", "/_local/schedules");
  }

  /** Runs one occurrence of a schedule now, as EventBridge Scheduler would. */
  async runSchedule(name: string, options: { scheduledTime?: string } = {}): Promise<ScheduleRun> {
    assertId("schedule name", name);
    const segment = encodeURIComponent(name).replaceAll(".", "%2E");
    return this.request("POST", `/_local/schedules/${segment}/run`, options);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.token}`,
          accept: "application/json",
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      if ((error as Error)?.name === "TimeoutError")
        throw new StepbatchTimeoutError(method, path, timeoutMs, this.baseUrl);
      const cause =
        (error as Error & { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new StepbatchConnectionError(
        `cannot reach the local stack at ${this.baseUrl} (${cause})`,
      );
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new StepbatchApiError(
        response.status,
        error?.code ?? `HTTP_${response.status}`,
        error?.message ?? (text.slice(0, 200) || response.statusText),
      );
    }
    return parsed as T;
  }
}
