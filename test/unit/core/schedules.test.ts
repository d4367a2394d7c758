import { describe, expect, it } from "vitest";
import { parseSchedules } from "../../../functions/core/schedules.ts";
import demo from "../../../stepbatch.config.ts";

const file = (schedules: unknown[]) => ({ schedules });
const valid = {
  name: "nightly",
  expression: "cron(0 2 * * ? *)",
  timezone: "America/Toronto",
  batch: { jobs: ["RY.TO"] },
};

describe("the schedules configuration", () => {
  it("accepts the demo pipeline's schedules", () => {
    const shipped = { schedules: demo.schedules };
    expect(parseSchedules(shipped).map((s) => s.name)).toEqual(["nightly-tickers"]);
  });

  it("defaults to enabled, in UTC", () => {
    const [schedule] = parseSchedules(
      file([{ name: "hourly", expression: "rate(1 hour)", batch: { jobs: ["A"] } }]),
    );
    expect(schedule).toMatchObject({ enabled: true, timezone: "UTC" });
  });

  it.each([
    [
      { ...valid, expression: "every night" },
      /schedule 'nightly': expression: expression must be cron/,
    ],
    [
      { ...valid, batch: { jobs: [] } },
      /schedule 'nightly': batch.jobs: jobs must hold at least one job/,
    ],
    [
      { ...valid, batch: { jobs: ["A"], concurrency: 99 } },
      /batch.concurrency: concurrency must be at most 40/,
    ],
    [{ ...valid, timezone: "Mars/Olympus" }, /timezone 'Mars\/Olympus' is not an IANA time zone/],
    [{ ...valid, name: "has spaces" }, /name must be 1 to 64 letters/],
    [{ ...valid, every: "day" }, /unknown field\(s\) 'every'/],
  ])("refuses %j, naming the schedule and the field", (schedule, message) => {
    expect(() => parseSchedules(file([schedule]))).toThrow(message);
  });

  it("refuses two schedules with one name", () => {
    expect(() => parseSchedules(file([valid, valid]))).toThrow(
      /schedule name 'nightly' is used twice/,
    );
  });
});
