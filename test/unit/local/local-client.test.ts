import { afterEach, describe, expect, it } from "vitest";
import {
  InvalidIdError,
  StepbatchApiError,
  StepbatchTimeoutError,
} from "../../../client/stepbatch-client.ts";
import { LocalStackClient } from "../../../local/local-client.ts";
import { type FakeApi, startFakeApi } from "../../helpers/fake-api.ts";

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const clientOf = (fake: FakeApi, timeoutMs?: number) =>
  new LocalStackClient({
    apiUrl: fake.apiUrl,
    token: fake.token,
    ...(timeoutMs ? { timeoutMs } : {}),
  });

describe("the local stack's client", () => {
  it("lists schedules and runs one at its own route, whatever dots its name holds", async () => {
    // Prepare
    api = await startFakeApi(({ method }) =>
      method === "GET"
        ? { status: 200, body: { schedules: [] } }
        : { status: 202, body: { schedule: "s", scheduledTime: "2030-01-01T00:00:00Z" } },
    );
    const client = clientOf(api);
    // Act
    await client.schedules();
    await client.runSchedule("Stack-nightly.v2", { scheduledTime: "2030-01-01T00:00:00Z" });
    // Assess
    expect(api.requests).toEqual([
      { method: "GET", path: "/_local/schedules", body: undefined },
      {
        method: "POST",
        path: "/_local/schedules/Stack-nightly%2Ev2/run",
        body: { scheduledTime: "2030-01-01T00:00:00Z" },
      },
    ]);
  });

  it("refuses a name that would be another route, sending nothing", async () => {
    // Prepare
    api = await startFakeApi(() => ({ status: 202, body: {} }));
    // Act
    const refused = await clientOf(api)
      .runSchedule("..")
      .catch((error: unknown) => error);
    // Assess
    expect(refused).toBeInstanceOf(InvalidIdError);
    expect(api.requests).toEqual([]);
  });

  it("fails as the API client does: the error answer's status, code and message, or a timeout", async () => {
    // Prepare
    api = await startFakeApi(({ method }) =>
      method === "GET"
        ? "hang"
        : {
            status: 404,
            body: { error: { code: "SCHEDULE_NOT_FOUND", message: "no schedule 'x'" } },
          },
    );
    const client = clientOf(api, 200);
    // Act
    const notFound = await client.runSchedule("x").catch((error: unknown) => error);
    const late = await client.schedules().catch((error: unknown) => error);
    // Assess
    expect(notFound).toBeInstanceOf(StepbatchApiError);
    expect(notFound).toMatchObject({
      status: 404,
      code: "SCHEDULE_NOT_FOUND",
      message: "no schedule 'x'",
    });
    expect(late).toBeInstanceOf(StepbatchTimeoutError);
  });
});
