import { describe, expect, it } from "vitest";
import { PayloadTooLargeError, ValidationError } from "../../../functions/domain/errors";
import {
  assertBatchId,
  assertJobId,
  cancelBodySchema,
  parseBody,
  submitBatchSchema,
} from "../../../functions/domain/schemas";

describe("a submitted batch body", () => {
  it("accepts names, objects with input, a name and a concurrency", () => {
    const body = parseBody(
      submitBatchSchema,
      JSON.stringify({
        name: "tickers",
        jobs: ["RY.TO", { name: "TD.TO", input: { pages: 3, failIn: "Digest" } }],
        concurrency: 40,
      }),
    );
    expect(body.jobs).toHaveLength(2);
  });

  it.each([
    ["", /request body is required/],
    ["{not json", /not valid JSON/],
    ["[1,2]", /must be a JSON object/],
    ["null", /must be a JSON object/],
    ["{}", /jobs/],
    ['{"jobs": []}', /jobs: jobs must hold at least one job/],
    ['{"jobs": "RY.TO"}', /jobs: jobs must be an array/],
    ['{"jobs": [42]}', /jobs\[0\]: each job must be a name/],
    ['{"jobs": [""]}', /jobs\[0\]/],
    ['{"jobs": ["a\\u0000b"]}', /jobs\[0\]/],
    ['{"jobs": [{"name": "x", "input": {"pages": 0}}]}', /jobs\[0\]/],
    ['{"jobs": [{"nam": "x"}]}', /jobs\[0\]/],
    ['{"jobs": ["a"], "concurrency": 0}', /concurrency: concurrency must be at least 1/],
    ['{"jobs": ["a"], "concurrency": 41}', /concurrency: concurrency must be at most 40/],
    ['{"jobs": ["a"], "concurrency": 2.5}', /concurrency must be a whole number/],
    ['{"jobs": ["a"], "concurrency": "10"}', /concurrency must be a number/],
    ['{"jobs": ["a"], "priority": 1}', /unknown field\(s\) 'priority'/],
  ])("refuses %s with a message naming the problem", (body, message) => {
    expect(() => parseBody(submitBatchSchema, body)).toThrow(ValidationError);
    expect(() => parseBody(submitBatchSchema, body)).toThrow(message);
  });

  it("refuses more jobs than one execution can hold, and says the limit", () => {
    const body = JSON.stringify({ jobs: Array.from({ length: 1001 }, (_, i) => `j${i}`) });
    expect(() => parseBody(submitBatchSchema, body)).toThrow(/at most 1000 jobs per batch/);
  });

  it("refuses a body over 1 MiB as too large", () => {
    const body = JSON.stringify({ jobs: ["x".repeat(1024 * 1024)] });
    expect(() => parseBody(submitBatchSchema, body)).toThrow(PayloadTooLargeError);
  });
});

describe("a cancel body", () => {
  it("may be empty", () => {
    expect(parseBody(cancelBodySchema, undefined, { required: false })).toEqual({});
  });

  it.each([
    ['{"jobs": []}', /jobs must name at least one job/],
    ['{"jobs": "a"}', /jobs must be an array/],
    ['{"reason": 5}', /reason must be a string/],
    ['{"force": true}', /unknown field/],
  ])("refuses %s", (body, message) => {
    expect(() => parseBody(cancelBodySchema, body, { required: false })).toThrow(message);
  });
});

describe("ids in paths", () => {
  it.each(["../etc/passwd", "b-%2e%2e", "", "B-M1ABC2DE-0A1B2C3D", "b-abc-0a1b2c3d\n"])(
    "refuses batch id %j",
    (id) => {
      expect(() => assertBatchId(id)).toThrow(/not a valid batch id/);
    },
  );

  it("accepts the ids it issues", () => {
    expect(assertBatchId("b-m1abc2de-0a1b2c3d")).toBe("b-m1abc2de-0a1b2c3d");
    expect(assertJobId("job-00042")).toBe("job-00042");
    expect(() => assertJobId("job-1")).toThrow(/not a valid job id/);
  });
});
