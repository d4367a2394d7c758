import {
  DEFAULT_TIMEOUT_MS,
  type RequestTarget,
  requestJson,
  segment,
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
  private readonly target: RequestTarget;

  constructor(options: LocalStackClientOptions) {
    this.target = {
      baseUrl: options.apiUrl.replace(/\/+$/, ""),
      token: options.token,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      name: "the local stack",
    };
  }

  /** The schedules of the running app. */
  async schedules(): Promise<{ schedules: LocalScheduleView[] }> {
    return requestJson(this.target, "GET", "/_local/schedules");
  }

  /** Runs one occurrence of a schedule now, as EventBridge Scheduler would. */
  async runSchedule(name: string, options: { scheduledTime?: string } = {}): Promise<ScheduleRun> {
    const path = `/_local/schedules/${segment("schedule name", name)}/run`;
    return requestJson(this.target, "POST", path, { body: options });
  }
}
