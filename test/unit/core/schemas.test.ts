import { describe, expect, it } from "vitest";
import {
  BatchNotFoundError,
  JobNotFoundError,
  PayloadTooLargeError,
  ValidationError,
} from "../../../functions/core/errors.ts";
import {
  assertBatchId,
  assertJobId,
  cancelBodySchema,
  listBatchesQuerySchema,
  parseBody,
  parseWith,
  submitBatchSchema,
} from "../../../functions/core/schemas.ts";
import { normalizeJobs } from "../../../functions/core/submit.ts";

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
    ['{"jobs": [{"name": "x", "input": [1]}]}', /jobs\[0\]/],
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
    "finds no batch for the id %j, and says what batch ids look like",
    (id) => {
      expect(() => assertBatchId(id)).toThrow(BatchNotFoundError);
      expect(() => assertBatchId(id)).toThrow(/batch ids look like b-m1abc2de-0a1b2c3d/);
    },
  );

  it.each(["..", ".", "", "job-1", "%2E%2E", "RY.TO"])("finds no job for the id %j", (id) => {
    expect(() => assertJobId("b-m1abc2de-0a1b2c3d", id)).toThrow(JobNotFoundError);
    expect(() => assertJobId("b-m1abc2de-0a1b2c3d", id)).toThrow(/job ids look like job-00001/);
  });

  it("accepts the ids it issues", () => {
    expect(assertBatchId("b-m1abc2de-0a1b2c3d")).toBe("b-m1abc2de-0a1b2c3d");
    expect(assertJobId("b-m1abc2de-0a1b2c3d", "job-00042")).toBe("job-00042");
  });
});

describe("a job input nested deeper than DynamoDB can store", () => {
  const nested = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

  it.each([17, 1_000, 10_000])(
    "is refused with a 400 naming the limit at %i levels, without overflowing the stack",
    (levels) => {
      // Prepare
      const body = `{"jobs":[{"name":"deep","input":${nested(levels)}}]}`;
      // Act
      const act = () => parseBody(submitBatchSchema, body);
      // Assess
      expect(act).toThrow(ValidationError);
      expect(act).toThrow(/nested at most (16|32) levels deep/);
    },
  );

  it("is accepted at 16 levels", () => {
    const body = `{"jobs":[{"name":"deep","input":${nested(16)}}]}`;
    expect(parseBody(submitBatchSchema, body).jobs).toHaveLength(1);
  });

  it("is refused anywhere in the body, not only in an input", () => {
    const body = `{"jobs":["a"],"name":${"[".repeat(5_000)}${"]".repeat(5_000)}}`;
    expect(() => parseBody(submitBatchSchema, body)).toThrow(/nested at most 32 levels deep/);
  });
});

describe("numbers in a job input", () => {
  it.each(["1e+300", "-1e200", "1e-200"])(
    "are refused when DynamoDB cannot store them (%s), naming the job",
    (number) => {
      const body = `{"jobs":[{"name":"n","input":{"deep":{"x":${number}}}}]}`;
      expect(() => parseBody(submitBatchSchema, body)).toThrow(ValidationError);
      expect(() => parseBody(submitBatchSchema, body)).toThrow(
        /jobs\[0\]\.input: input holds the number .*, which DynamoDB cannot store/,
      );
    },
  );

  it("are kept across DynamoDB's whole range", () => {
    const body = '{"jobs":[{"name":"n","input":{"a":0,"b":1e125,"c":-1e-129,"d":3.14}}]}';
    expect(parseBody(submitBatchSchema, body).jobs).toHaveLength(1);
  });
});

describe("job names, which people read and cancel by", () => {
  it.each([
    ["a control character", "a\u0007b", /U\+0007/],
    ["a newline that would be trimmed away", "a\n", /U\+000A/],
    ["a bidi override", "abc\u202Edef", /U\+202E/],
    ["a zero-width space", "RY\u200B.TO", /U\+200B/],
    ["a lone surrogate", "a\uD800b", /lone surrogates/],
    ["leading spaces", "  RY.TO", /must not start or end with spaces/],
    ["the form of a job id", "job-00002", /must not look like a job id/],
  ])("are refused when they hold %s, naming the job", (_, name, message) => {
    // Prepare
    const body = JSON.stringify({ jobs: ["fine", { name }] });
    // Act
    const act = () => parseBody(submitBatchSchema, body);
    // Assess
    expect(act).toThrow(ValidationError);
    expect(act).toThrow(/jobs\[1\]/);
    expect(act).toThrow(message);
  });

  it("must differ once Unicode-normalised: two spellings of é are one name", () => {
    const body = parseBody(
      submitBatchSchema,
      JSON.stringify({ jobs: ["caf\u00e9", "cafe\u0301"] }),
    );
    expect(() => normalizeJobs(body.jobs)).toThrow(
      /jobs\[1\]: name 'cafe\u0301' is the same after Unicode normalisation as jobs\[0\]/,
    );
  });

  it("keep letters of every script, punctuation and emoji", () => {
    const names = ["RY.TO", "株式会社", "Ünïcödé ✓", "a b", "📈 digest"];
    const body = parseBody(submitBatchSchema, JSON.stringify({ jobs: names }));
    expect(normalizeJobs(body.jobs).map((job) => job.name)).toEqual(names);
  });
});

describe("the list query's limit", () => {
  it.each(["1e2", "0x10", " 5", "5.0", "-1", "0", "101"])("refuses %j", (limit) => {
    expect(() => parseWith(listBatchesQuerySchema, { limit })).toThrow(/limit must be/);
  });

  it("takes plain digits", () => {
    expect(parseWith(listBatchesQuerySchema, { limit: "20" })).toEqual({ limit: 20 });
  });
});
