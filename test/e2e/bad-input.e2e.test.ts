import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, client, type E2ETarget, startTarget } from "../helpers/e2e.ts";

// Property-based: whatever arrives, the answer is a 4xx with a JSON error that says something,
// never a 5xx, and nothing is written.
let target: E2ETarget;
let api: Api;
let newestBefore: string | undefined;
beforeAll(async () => {
  target = await startTarget();
  api = client(target);
  newestBefore = (await api.call("GET", "/batches?limit=1")).body.batches[0]?.batchId;
}, 60_000);
afterAll(async () => target?.close());

const RUNS = Number(process.env.STEPBATCH_PROPERTY_RUNS ?? 60);
const existingBatch = "b-zzzzzzzz-00000000";

function expectRefusal(answer: { status: number; body: any }, what: string) {
  expect(
    answer.status,
    `${what} -> ${answer.status} ${JSON.stringify(answer.body)}`,
  ).toBeGreaterThanOrEqual(400);
  expect(answer.status, what).toBeLessThan(500);
  expect(typeof answer.body?.error?.code, what).toBe("string");
  expect(String(answer.body?.error?.message ?? "").length, what).toBeGreaterThan(5);
}

/** Values of every JSON type, unicode included, nested a little. */
const anyJson = fc.jsonValue({ maxDepth: 3 });
const weirdString = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", " ", "../../etc/passwd", "%00", "💥", "a\u0000b", "<script>", "null"),
);
// Not empty, and not a bare dot segment: URL rules (every client, API Gateway, the local server)
// resolve `/batches/`, `/batches/.` and `/batches/%2E` to the list route, rightly answered 200.
const idLike = fc
  .oneof(
    weirdString,
    fc.constantFrom(
      "...",
      "b-..%2F..",
      "job-0",
      "b-zzzzzzzz-0000000",
      "BATCH#x",
      "job-00001/../x",
      "..%2F..%2Fetc",
    ),
  )
  .filter((id) => id.length > 0 && id !== "." && id !== "..");

describe("malformed requests", () => {
  it("POST /batches refuses bodies of the wrong shape, with a 4xx that names the problem", async () => {
    const badBody = fc.oneof(
      anyJson.filter(
        (v) => typeof v !== "object" || v === null || Array.isArray(v) || !("jobs" in v),
      ),
      fc.record({
        jobs: fc.oneof(
          anyJson.filter((v) => !Array.isArray(v)),
          fc.constant([]),
        ),
      }),
      fc.record({
        jobs: fc.array(
          fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.record({ input: anyJson })),
          { minLength: 1, maxLength: 3 },
        ),
      }),
      fc.record({
        jobs: fc.constant(["ok"]),
        concurrency: fc.oneof(
          fc.integer({ min: -100, max: 0 }),
          fc.integer({ min: 41, max: 10_000 }),
          fc.double(),
          weirdString,
        ),
      }),
      fc.record({ jobs: fc.constant(["ok"]), unexpected: anyJson }),
    );
    await fc.assert(
      fc.asyncProperty(badBody, async (body) => {
        expectRefusal(
          await api.call("POST", "/batches", body),
          `POST /batches ${JSON.stringify(body)}`,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("POST /batches refuses text that is not JSON, and oversized payloads", async () => {
    await fc.assert(
      fc.asyncProperty(
        weirdString.filter((s) => {
          try {
            JSON.parse(s);
            return false;
          } catch {
            return true;
          }
        }),
        async (raw) => {
          expectRefusal(
            await api.call("POST", "/batches", undefined, { raw }),
            `raw ${JSON.stringify(raw)}`,
          );
        },
      ),
      { numRuns: RUNS },
    );
    const huge = { jobs: Array.from({ length: 1001 }, (_, i) => `job ${i}`) };
    const tooMany = await api.call("POST", "/batches", huge);
    expectRefusal(tooMany, "1001 jobs");
    expect(tooMany.body.error.message).toMatch(/at most 1000 jobs/);
    const tooBig = await api.call("POST", "/batches", undefined, {
      raw: JSON.stringify({ jobs: ["x".repeat(2 * 1024 * 1024)] }),
    });
    expect([400, 413]).toContain(tooBig.status);
  });

  it("every route refuses ids that are not ids, path-traversal-like ones included", async () => {
    const routes = (batch: string, jobId: string) =>
      [
        ["GET", `/batches/${batch}`],
        ["GET", `/batches/${batch}/results`],
        ["POST", `/batches/${batch}/cancel`],
        ["POST", `/batches/${batch}/consolidate`],
        ["GET", `/batches/${existingBatch}/jobs/${jobId}`],
        ["POST", `/batches/${batch}/jobs/${jobId}/cancel`],
        ["DELETE", `/batches/${batch}/jobs/${jobId}`],
      ] as const;
    await fc.assert(
      fc.asyncProperty(idLike, idLike, async (batch, jobId) => {
        for (const [method, path] of routes(encodeURIComponent(batch), encodeURIComponent(jobId))) {
          const answer = await api.call(method, path);
          // An encoded id may route nowhere (API Gateway's 403) or be refused (400) or unknown (404).
          expect([400, 403, 404], `${method} ${path} -> ${answer.status}`).toContain(answer.status);
        }
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });

  it("cancel bodies and list queries of the wrong shape are refused", async () => {
    const badCancel = fc.oneof(
      anyJson.filter((v) => v !== null && (typeof v !== "object" || Array.isArray(v))),
      fc.record({
        jobs: fc.oneof(
          fc.constant([]),
          anyJson.filter((v) => !Array.isArray(v) && v !== undefined),
        ),
      }),
      fc.record({ reason: fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.string())) }),
      fc.record({ force: anyJson }),
    );
    await fc.assert(
      fc.asyncProperty(badCancel, async (body) => {
        expectRefusal(
          await api.call("POST", `/batches/${existingBatch}/cancel`, body),
          `cancel ${JSON.stringify(body)}`,
        );
      }),
      { numRuns: RUNS },
    );
    const badQuery = fc.record({
      limit: fc.oneof(
        fc.integer({ max: 0 }),
        fc.integer({ min: 101 }),
        weirdString.filter((s) => s.trim() !== "" && Number.isNaN(Number(s))),
      ),
    });
    await fc.assert(
      fc.asyncProperty(badQuery, async ({ limit }) => {
        expectRefusal(
          await api.call("GET", `/batches?limit=${encodeURIComponent(String(limit))}`),
          `limit=${limit}`,
        );
      }),
      { numRuns: RUNS },
    );
    expectRefusal(await api.call("GET", "/batches?status=exploded"), "status=exploded");
    expectRefusal(await api.call("GET", "/batches?cursor=bm9wZQ"), "a forged cursor");
  });

  it("wrote nothing", async () => {
    const newestAfter = (await api.call("GET", "/batches?limit=1")).body.batches[0]?.batchId;
    expect(newestAfter).toBe(newestBefore);
  });
});
