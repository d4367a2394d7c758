import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalStack, PROJECT_ROOT, startLocalStack } from "../../local/stack.ts";
import { call, listEveryBatch, TERMINAL_BATCH } from "../helpers/batch-census.ts";
import { Dice, envInt, faultSeed } from "../helpers/dice.ts";
import { writeFigures } from "../helpers/fault-figures.ts";
import {
  encodeUtf8,
  type RawAnswer,
  rawRequest,
  sendablePath,
  UNSENDABLE_IN_HEADER,
  utf8AsLatin1,
} from "../helpers/raw-requests.ts";

/**
 * A seeded random fuzzer over every route of the API, against the local stack started in this
 * process, while real batches run. Each answer must be below 500, every error must be
 * `{"error": {"code", "message"}}`, no answer may carry a stack trace, a file path or the token,
 * a missing token is a 401 and a wrong one a 403, and an id that names nothing is a 404. After
 * the run the stack must still serve, and every batch it lists must have its record and results.
 *
 * Replay: STEPBATCH_FAULT_SEED=<seed> STEPBATCH_FUZZ_REQUESTS=<n> npm run test:faults -- fuzz
 * (the ids of live batches differ from run to run; each failure also names its request in full).
 * Counts of the last run: <os temp dir>/stepbatch-faults/fuzz.json.
 */
const REQUESTS = envInt("STEPBATCH_FUZZ_REQUESTS", 2000);
const CONCURRENCY = Math.max(1, envInt("STEPBATCH_FUZZ_CONCURRENCY", 4));
/** Real batches kept running while the fuzzer runs, so cancels hit live batches. */
const LIVE_BATCHES = envInt("STEPBATCH_FUZZ_LIVE_BATCHES", 3);
const MAX_LIVE_SUBMITS = envInt("STEPBATCH_FUZZ_MAX_LIVE_SUBMITS", 30);
const SEED = faultSeed();
const EXAMPLES = 6;

// ---------------------------------------------------------------------------------------------
// The API's routes, as docs/openapi.yaml lists them.

type RouteName =
  | "submit"
  | "list"
  | "batch"
  | "results"
  | "cancel"
  | "consolidate"
  | "job"
  | "deleteJob"
  | "cancelJob";

interface Route {
  readonly name: RouteName;
  readonly method: "GET" | "POST" | "DELETE";
  readonly template: string;
}

const ROUTES: readonly Route[] = [
  { name: "submit", method: "POST", template: "/batches" },
  { name: "list", method: "GET", template: "/batches" },
  { name: "batch", method: "GET", template: "/batches/{batchId}" },
  { name: "results", method: "GET", template: "/batches/{batchId}/results" },
  { name: "cancel", method: "POST", template: "/batches/{batchId}/cancel" },
  { name: "consolidate", method: "POST", template: "/batches/{batchId}/consolidate" },
  { name: "job", method: "GET", template: "/batches/{batchId}/jobs/{jobId}" },
  { name: "deleteJob", method: "DELETE", template: "/batches/{batchId}/jobs/{jobId}" },
  { name: "cancelJob", method: "POST", template: "/batches/{batchId}/jobs/{jobId}/cancel" },
];

/**
 * The route a request reaches, read as the API reads it (URL rules: dot segments resolved, an
 * optional /v1 stage prefix, path parameters percent-decoded). `plain` is true when the path
 * needs no resolving at all, so which route it names cannot be in doubt.
 */
function routeOf(
  method: string,
  path: string,
): { route: Route; params: Record<string, string>; plain: boolean } | undefined {
  let pathname: string;
  try {
    pathname = new URL(path, "http://127.0.0.1").pathname;
  } catch {
    return undefined;
  }
  const plain = pathname === path.split("?")[0];
  const stageless = pathname.replace(/^\/v1(?=\/|$)/, "") || "/";
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const names: string[] = [];
    const pattern = route.template.replace(/\{([^}]+)\}/g, (_, name: string) => {
      names.push(name);
      return "([^/]+)";
    });
    const match = new RegExp(`^${pattern}/?$`).exec(stageless);
    if (!match) continue;
    const params = Object.fromEntries(
      names.map((name, i) => {
        const raw = match[i + 1] ?? "";
        try {
          return [name, decodeURIComponent(raw)];
        } catch {
          return [name, raw];
        }
      }),
    );
    return { route, params, plain };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// What the fuzzer knows: batches it (or the live-batch keeper) created, their jobs, cursors.

interface KnownBatch {
  readonly batchId: string;
  readonly jobs: readonly { jobId: string; name: string }[];
  live: boolean;
}

const known = new Map<string, KnownBatch>();
const cursors: string[] = [];

/** Learns the batches a submit created (and the one a failed start names), and list cursors. */
function learn(route: RouteName | "wrongMethod", answer: RawAnswer): void {
  const body = answer.json as any;
  if (!body || typeof body !== "object") return;
  if (route === "list" && typeof body.nextCursor === "string" && cursors.length < 50)
    cursors.push(body.nextCursor);
  if (route !== "submit") return;
  if (answer.status < 300 && typeof body.batchId === "string" && Array.isArray(body.jobs)) {
    if (known.has(body.batchId)) return;
    const jobs = body.jobs.filter(
      (j: any): j is { jobId: string; name: string } =>
        typeof j?.jobId === "string" && typeof j?.name === "string",
    );
    known.set(body.batchId, { batchId: body.batchId, jobs, live: false });
  }
  const failedStart = body.error?.details?.batchId;
  if (answer.status >= 500 && typeof failedStart === "string" && !known.has(failedStart))
    known.set(failedStart, { batchId: failedStart, jobs: [], live: false });
}

// ---------------------------------------------------------------------------------------------
// Odd values.

/** Text that tests names, reasons and ids: control, bidi, invisible and lone-surrogate characters. */
const ODD_TEXT: readonly string[] = [
  "",
  " ",
  "  leading",
  "trailing ",
  "\t",
  "\n",
  "\r\n",
  "\u0000",
  "a\u0000b",
  "\u0007bell",
  "\u001b[31mred",
  "\u007f",
  "\u202eevil\u202c",
  "\u202dforced",
  "\u2066isolate\u2069",
  "\u200f",
  "zero\u200bwidth",
  "\ufeffbom",
  "\ud800",
  "\udfff",
  "a\ud83d",
  "\ud83d\ude00",
  "💥",
  "👩‍👩‍👧",
  "ﬁ",
  "fi",
  "Å",
  "A\u030a",
  "Ω",
  "\u2126",
  "بيانات",
  "中文名字",
  "ｊｏｂ－０００１",
  "\u2028line",
  "\ue000private",
  "job-00001",
  "job-1",
  "JOB-00001",
  "job-99999",
  "job-00001 ",
  " job-00001",
  "job-000001",
  "b-zzzzzzzz-00000000",
  "null",
  "undefined",
  "true",
  "0",
  "-1",
  "NaN",
  "[]",
  "{}",
  "<script>alert(1)</script>",
  "'; DROP TABLE batches; --",
  "$\u007bjndi:ldap://x/a}", // ${...}, spelled so it is not read as a template
  "{{7*7}}",
  "%s%s%s%n",
  "../../etc/passwd",
  "..\\..\\windows\\win.ini",
  "BATCH#x",
  "JOB#job-00001",
  "#",
  "/",
  "?",
  "&",
  "=",
  "%",
  "%00",
  "%2F",
  "RY.TO",
];

const ODD_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e300,
  -0,
  "3",
  "",
  [],
  {},
  [null],
  ["a"],
  { a: 1 },
  "💥",
];

const DOT_SEGMENTS = [".", "..", "%2e", "%2E%2E", ".%2e", "%2e.", "...", "..;", "%2e%2e%2f"];
const PERCENT_GARBAGE = [
  "%",
  "%zz",
  "%00",
  "%2F",
  "%252F",
  "%u0041",
  "%C0%AF",
  "%FF",
  "%ED%A0%80",
  "%E2%80%AE",
  "%0A",
  "%20",
  "%23",
  "%3F",
];

/** Builds nesting `depth` levels deep without recursion: {"a":{"a":...1...}} or [[[...]]]. */
function nested(depth: number, kind: "object" | "array"): string {
  return kind === "object"
    ? `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`
    : `${"[".repeat(depth)}1${"]".repeat(depth)}`;
}

/** Encodes every character but the unreserved ones, lone surrogates included. */
function encodeAll(text: string): string {
  let out = "";
  for (const char of text) out += /[A-Za-z0-9\-._~]/.test(char) ? char : encodeUtf8(char);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The request generator.

type Auth = "right" | "admin" | "none" | "wrong" | "adminWrong" | "odd";

interface FuzzRequest {
  readonly index: number;
  readonly intended: RouteName | "wrongMethod";
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string | Buffer;
  readonly auth: Auth;
}

class Generator {
  constructor(
    private readonly dice: Dice,
    private readonly token: string,
  ) {}

  request(index: number): FuzzRequest {
    const d = this.dice;
    const wrongMethod = d.chance(0.03);
    const route = d.weighted<Route>([
      [14, ROUTES[0] as Route],
      [8, ROUTES[1] as Route],
      [12, ROUTES[2] as Route],
      [10, ROUTES[3] as Route],
      [16, ROUTES[4] as Route],
      [6, ROUTES[5] as Route],
      [10, ROUTES[6] as Route],
      [8, ROUTES[7] as Route],
      [16, ROUTES[8] as Route],
    ]);
    const batch = this.batch();
    const batchSegment = this.batchSegment(batch);
    const jobSegment = this.jobSegment(batch);
    let path = route.template.replace("{batchId}", batchSegment).replace("{jobId}", jobSegment);
    path = this.decoratePath(path);
    path = sendablePath(path + this.query(route.name));

    const method = wrongMethod
      ? d.pick(["PUT", "PATCH", "OPTIONS", route.method === "GET" ? "DELETE" : "GET"])
      : route.method;
    const body = this.body(route.name, batch);
    const { headers, auth } = this.headers(route.name, body !== undefined);
    return {
      index,
      intended: wrongMethod ? "wrongMethod" : route.name,
      method,
      path,
      headers,
      ...(body !== undefined ? { body } : {}),
      auth,
    };
  }

  private batch(): KnownBatch | undefined {
    const all = [...known.values()];
    const live = all.filter((b) => b.live);
    // Every draw is made whatever is known, so a replay takes the same path.
    const [preferLive, livePick] = [this.dice.chance(0.55), this.dice.maybePick(live)];
    const [preferKnown, knownPick] = [this.dice.chance(0.6), this.dice.maybePick(all)];
    if (preferLive && livePick) return livePick;
    if (preferKnown && knownPick) return knownPick;
    return undefined;
  }

  private oddSegment(): string {
    const d = this.dice;
    const text = d.pick(ODD_TEXT);
    return d.chance(0.7) ? encodeAll(text) : sendablePath(text);
  }

  private batchSegment(batch: KnownBatch | undefined): string {
    const d = this.dice;
    const real = batch?.batchId ?? "b-m1abc2de-0a1b2c3d";
    return d.weighted<() => string>([
      [55, () => real],
      [
        8,
        () =>
          `b-${d.text(8, "abcdefghijklmnopqrstuvwxyz0123456789")}-${d.text(8, "0123456789abcdef")}`,
      ],
      [10, () => this.oddSegment()],
      [4, () => utf8AsLatin1(d.pick(["💥", "中文", "\u202eb-x", "é"]))],
      [6, () => d.pick(DOT_SEGMENTS)],
      [6, () => d.pick(PERCENT_GARBAGE)],
      [
        6,
        () =>
          d.pick([
            real.toUpperCase(),
            `%62${real.slice(1)}`,
            `${real}%20`,
            `${real}%00`,
            `${real}/`,
            `${real}/..`,
            `${real}/.`,
            `${real};x`,
            `${real}%2F..`,
            encodeAll(`${real}\u202e`),
            "",
          ]),
      ],
      [
        5,
        () =>
          `${d.pick(["b-", "", "%"])}${d.pick(["a", "é", "%41", "9"]).repeat(d.int(500, 2000))}`,
      ],
    ])();
  }

  private jobSegment(batch: KnownBatch | undefined): string {
    const d = this.dice;
    const jobs = batch?.jobs ?? [];
    const real = d.maybePick(jobs);
    return d.weighted<() => string>([
      [50, () => real?.jobId ?? "job-00001"],
      [8, () => `job-${String(jobs.length + d.int(1, 3)).padStart(5, "0")}`],
      [8, () => encodeAll(real?.name ?? "RY.TO")],
      [10, () => this.oddSegment()],
      [5, () => d.pick(DOT_SEGMENTS)],
      [5, () => d.pick(PERCENT_GARBAGE)],
      [
        4,
        () => d.pick(["job-0", "job-00000", "job-1e3", "JOB-00001", "job-00001%20", "job-00001/"]),
      ],
      [3, () => `job-${"0".repeat(d.int(100, 3000))}1`],
    ])();
  }

  private decoratePath(path: string): string {
    const d = this.dice;
    return d.weighted<() => string>([
      [88, () => path],
      [4, () => `/v1${path}`],
      [3, () => `${path}/`],
      [2, () => path.replace("/batches", "/batches/")],
      [2, () => path.replace("/batches", "/x/../batches")],
      [1, () => path.replace("/batches", "/BATCHES")],
    ])();
  }

  private query(route: RouteName): string {
    const d = this.dice;
    if (route !== "list" && !d.chance(0.06)) return "";
    if (route === "list" && d.chance(0.25)) return "";
    const parts: string[] = [];
    for (let i = d.int(1, 3); i > 0; i--) {
      parts.push(
        d.weighted<() => string>([
          [
            10,
            () =>
              `limit=${d.pick(["1e2", "0x10", "0", "-1", "101", "100", "1", "20", "1.5", "%205", "5%20", "", "abc", "%D9%A1%D9%A0", "99999999999999999999", "0010", "Infinity", "0b11"])}`,
          ],
          [
            8,
            () =>
              `status=${d.pick(["running", "queued", "succeeded", "cancelled", "cancelling", "completed_with_errors", "failed", "RUNNING", "exploded", "", "running,queued", "%00", "null", "%E2%80%AEdeliuqs"])}`,
          ],
          [
            8,
            () =>
              `cursor=${d.weighted<() => string>([
                [3, () => encodeURIComponent(d.maybePick(cursors) ?? "bm9wZQ")],
                [
                  3,
                  () => encodeURIComponent(`${(d.maybePick(cursors) ?? "bm9wZQ").slice(0, -2)}Zz`),
                ],
                [
                  3,
                  () =>
                    encodeURIComponent(
                      Buffer.from(
                        d.pick([
                          '{"pk":"BATCH#x","sk":"META"}',
                          '{"__proto__":{"x":1}}',
                          "[]",
                          "null",
                          '{"ExclusiveStartKey":{"pk":{"S":"x"}}}',
                          nested(100, "object"),
                        ]),
                      ).toString(d.pick(["base64", "base64url"] as const)),
                    ),
                ],
                [2, () => d.pick(["bm9wZQ", "", "%zz", "%00", "====", "a".repeat(3000)])],
              ])()}`,
          ],
          [
            3,
            () =>
              d.pick([
                "foo=bar",
                "limit=1&limit=2",
                "&&",
                "=",
                "limit",
                "%",
                "limit=%FF",
                "__proto__=1",
                "status[]=running",
                "cursor",
              ]),
          ],
        ])(),
      );
    }
    return `?${parts.join("&")}`;
  }

  private body(route: RouteName, batch: KnownBatch | undefined): string | Buffer | undefined {
    switch (route) {
      case "submit":
        return this.submitBody();
      case "cancel":
        return this.cancelBody(batch);
      case "cancelJob":
        return this.dice.chance(0.5) ? undefined : this.smallBody("reason");
      case "consolidate":
        return this.dice.chance(0.8) ? undefined : this.smallBody("reason");
      default:
        return this.dice.chance(0.05) ? this.smallBody("x") : undefined;
    }
  }

  private oddName(): string {
    const d = this.dice;
    return d.weighted<() => string>([
      [3, () => `job ${d.int(1, 1_000_000)}`],
      [5, () => d.pick(ODD_TEXT)],
      [1, () => `${d.pick(ODD_TEXT)}${d.pick(ODD_TEXT)}`],
      [1, () => "n".repeat(d.pick([199, 200, 201]))],
    ])();
  }

  private smallJobInput(): Record<string, unknown> {
    return { pages: this.dice.int(1, 2), workMs: this.dice.int(0, 50) };
  }

  private hugeString(): string {
    const d = this.dice;
    return d
      .pick(["a", "é", "💥", "\u202e", "\\", '"'])
      .repeat(d.pick([1_000, 10_000, 100_000, 400_000]));
  }

  private submitBody(): string | Buffer | undefined {
    const d = this.dice;
    const smallValid = () => ({
      ...(d.chance(0.5) ? { name: d.chance(0.5) ? "fuzz" : this.oddName() } : {}),
      jobs: Array.from({ length: d.int(1, 3) }, () =>
        d.chance(0.3) ? this.oddName() : { name: this.oddName(), input: this.smallJobInput() },
      ),
      ...(d.chance(0.3) ? { concurrency: d.int(1, 40) } : {}),
    });
    return d.weighted<() => string | Buffer | undefined>([
      [22, () => JSON.stringify(smallValid())],
      [
        18,
        () => {
          const body: Record<string, unknown> = smallValid();
          const field = d.pick([
            "jobs",
            "name",
            "concurrency",
            "input",
            "pages",
            "workMs",
            "failIn",
            "extra",
            "item",
          ]);
          const odd = d.pick(ODD_VALUES);
          if (field === "jobs" || field === "name" || field === "concurrency") body[field] = odd;
          else if (field === "extra")
            body[d.pick(["extra", "__proto__", "constructor", "Jobs"])] = odd;
          else if (field === "item") body.jobs = [odd, ...(body.jobs as unknown[])];
          else body.jobs = [{ name: "typed", input: { ...this.smallJobInput(), [field]: odd } }];
          return JSON.stringify(body);
        },
      ],
      [
        10,
        () => {
          const depth = d.pick([2, 15, 16, 17, 31, 32, 33, 100, 500, 2000]);
          const deep = nested(depth, d.pick(["object", "array"] as const));
          return d.pick([
            `{"jobs":[{"name":"deep","input":${deep}}]}`,
            `{"jobs":[{"name":"deep","input":{"pages":1,"workMs":0,"x":${deep}}}]}`,
            `{"jobs":${deep}}`,
            `{"jobs":["x"],"name":${deep}}`,
            deep,
          ]);
        },
      ],
      [
        4,
        () =>
          JSON.stringify(
            d.pick([
              { jobs: [this.hugeString()] },
              { name: this.hugeString(), jobs: ["x"] },
              { jobs: [{ name: "big", input: { pages: 1, workMs: 0, blob: this.hugeString() } }] },
            ]),
          ),
      ],
      [
        5,
        () =>
          JSON.stringify(
            d.pick([
              { jobs: Array.from({ length: 1001 }, (_, i) => `j${i}`) },
              { jobs: ["a", "a"] },
              { jobs: ["ﬁ", "fi"] },
              { jobs: ["Å", "A\u030a"] },
              { jobs: [{ name: "job-00002" }, { name: "x" }] },
              { jobs: [{ name: "x", input: { pages: 1001 } }] },
              { jobs: [{ name: "x", input: { pages: 1, workMs: -5 } }] },
              { jobs: [{ name: "x", input: { failIn: 7 } }] },
            ]),
          ),
      ],
      [15, () => this.malformedJson(`{"jobs":[{"name":"m","input":{"pages":1,"workMs":0}}]}`)],
      [10, () => JSON.stringify(this.randomJson(3))],
      [4, () => d.pick([undefined, ""])],
      [3, () => this.invalidUtf8()],
    ])();
  }

  private cancelBody(batch: KnownBatch | undefined): string | Buffer | undefined {
    const d = this.dice;
    const jobs = batch?.jobs ?? [];
    const item = () =>
      d.weighted<() => unknown>([
        [5, () => d.maybePick(jobs)?.jobId ?? "job-00001"],
        [3, () => d.maybePick(jobs)?.name ?? "RY.TO"],
        [3, () => d.pick(ODD_TEXT)],
        [1, () => d.pick(ODD_VALUES)],
      ])();
    return d.weighted<() => string | Buffer | undefined>([
      [25, () => undefined],
      [6, () => "{}"],
      [8, () => JSON.stringify({ reason: d.chance(0.5) ? "fuzz" : d.pick(ODD_TEXT) })],
      [4, () => JSON.stringify({ reason: d.pick(ODD_VALUES) })],
      [
        18,
        () =>
          JSON.stringify({
            jobs: Array.from({ length: d.int(1, 5) }, item),
            ...(d.chance(0.3) ? { reason: "fuzz subset" } : {}),
          }),
      ],
      [
        6,
        () =>
          JSON.stringify(
            d.pick([
              { jobs: [] },
              { jobs: "job-00001" },
              {
                jobs: Array.from(
                  { length: 1001 },
                  (_, i) => `job-${String(i + 1).padStart(5, "0")}`,
                ),
              },
              { jobs: ["job-00001", "job-00001"] },
              { jobs: [jobs[0]?.jobId ?? "job-00001", jobs[0]?.name ?? "x"] },
              { force: true },
              { reason: "x".repeat(501) },
              { reason: this.hugeString() },
            ]),
          ),
      ],
      [
        5,
        () =>
          `{"jobs":${nested(d.pick([17, 33, 500, 2000]), d.pick(["object", "array"] as const))}}`,
      ],
      [10, () => this.malformedJson('{"reason":"m","jobs":["job-00001"]}')],
      [6, () => JSON.stringify(this.randomJson(3))],
      [2, () => this.invalidUtf8()],
    ])();
  }

  private smallBody(field: string): string | Buffer {
    const d = this.dice;
    return d.weighted<() => string | Buffer>([
      [4, () => JSON.stringify({ [field]: d.chance(0.5) ? "fuzz" : d.pick(ODD_TEXT) })],
      [2, () => JSON.stringify({ [field]: d.pick(ODD_VALUES), extra: d.pick(ODD_VALUES) })],
      [3, () => this.malformedJson(`{"${field}":"m"}`)],
      [2, () => JSON.stringify(this.randomJson(2))],
      [1, () => nested(d.pick([33, 2000]), "array")],
      [1, () => this.invalidUtf8()],
    ])();
  }

  private malformedJson(valid: string): string {
    const d = this.dice;
    return d.pick([
      "{",
      "}",
      "[",
      valid.slice(0, Math.max(1, d.int(1, valid.length - 1))),
      `${valid}}`,
      `${valid},`,
      valid.replace(/"/g, "'"),
      valid.replace(/:/, ""),
      `\ufeff${valid}`,
      `${valid}\u0000`,
      `/* comment */${valid}`,
      "nul",
      "NaN",
      "-",
      "1e999999",
      "[1,]",
      '{"a":1,}',
      '{"jobs":["a"],"jobs":1}',
      '{"jobs":["\\ud800"]}',
      '{"jobs":["\\u0000"]}',
      '{"jobs":["\\x41"]}',
      '"unterminated',
      "\u0000",
      " ",
      "true false",
    ]);
  }

  private invalidUtf8(): Buffer {
    const d = this.dice;
    return Buffer.concat([
      Buffer.from('{"jobs":["'),
      Buffer.from(
        d.pick([[0xff, 0xfe], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe2, 0x82], [0x80]]),
      ),
      Buffer.from('"]}'),
    ]);
  }

  private randomJson(depth: number): unknown {
    const d = this.dice;
    if (depth <= 0 || d.chance(0.4)) return d.pick([...ODD_VALUES, d.pick(ODD_TEXT)]);
    if (d.chance(0.5)) return Array.from({ length: d.int(0, 3) }, () => this.randomJson(depth - 1));
    const out: Record<string, unknown> = {};
    for (let i = d.int(0, 3); i > 0; i--)
      out[d.pick(["jobs", "name", "reason", "input", "concurrency", "x", d.pick(ODD_TEXT)])] =
        this.randomJson(depth - 1);
    return out;
  }

  private headers(
    route: RouteName,
    hasBody: boolean,
  ): { headers: Record<string, string>; auth: Auth } {
    const d = this.dice;
    const token = this.token;
    const headers: Record<string, string> = {};
    const auth = d.weighted<Auth>([
      [72, "right"],
      [6, "admin"],
      [7, "none"],
      [6, "wrong"],
      [3, "adminWrong"],
      [6, "odd"],
    ]);
    if (auth === "right") headers.authorization = `Bearer ${token}`;
    if (auth === "admin") headers["x-admin-token"] = token;
    if (auth === "wrong")
      headers.authorization = `Bearer ${d.pick(["wrong", `${token}x`, token.slice(1), token.toUpperCase() === token ? "X" : token.toUpperCase(), "x".repeat(2000)])}`;
    if (auth === "adminWrong") headers["x-admin-token"] = d.pick(["wrong", `${token}x`, "0"]);
    if (auth === "odd") {
      const odd = d.pick<Record<string, string>>([
        { authorization: "Bearer" },
        { authorization: "Bearer " },
        { authorization: `bearer ${token}` },
        { authorization: `Basic ${token}` },
        { authorization: `Bearer  ${token}` },
        { authorization: `Bearer ${token}, Bearer wrong` },
        { authorization: `Bearer ${token}`, "x-admin-token": "wrong" },
        { authorization: "Bearer wrong", "x-admin-token": token },
        { "x-admin-token": "" },
        { authorization: utf8AsLatin1("Bearer 🔑") },
      ]);
      Object.assign(headers, odd);
    }
    if (route === "submit" ? d.chance(0.35) : d.chance(0.05)) {
      headers["idempotency-key"] = d.weighted<() => string>([
        [3, () => `fuzz-key-${d.int(1, 20)}`],
        [
          2,
          () =>
            d.pick([
              "",
              " ",
              "a b",
              "k".repeat(129),
              "k".repeat(128),
              "../k",
              "%00",
              "k\t1",
              utf8AsLatin1("ключ"),
              "é",
              "k;drop",
              "*",
              "null",
              "job-00001",
            ]),
        ],
      ])();
    }
    if (d.chance(0.2))
      headers["x-stepbatch-actor"] = d.pick([
        "system",
        "system",
        "console",
        "scheduler",
        "stepbatch",
        utf8AsLatin1("👩‍💻 \u202eroot"),
        "a".repeat(500),
        "root@host",
        "\t",
      ]);
    if (hasBody)
      headers["content-type"] = d.weighted<string>([
        [80, "application/json"],
        [5, "text/plain"],
        [4, "application/json; charset=utf-16"],
        [3, "application/x-www-form-urlencoded"],
        [3, "application/json, application/json"],
        [5, ""],
      ]);
    if (headers["content-type"] === "") delete headers["content-type"];
    if (d.chance(0.03)) headers["content-encoding"] = d.pick(["gzip", "br", "identity"]);
    for (const [name, value] of Object.entries(headers))
      headers[name] = value.replace(UNSENDABLE_IN_HEADER, "?");
    return { headers, auth };
  }
}

// ---------------------------------------------------------------------------------------------
// The properties, checked answer by answer.

type Property =
  | "answered"
  | "below500"
  | "errorShape"
  | "rawBytesInPath"
  | "noLeak"
  | "missingToken401"
  | "wrongToken403"
  | "rightTokenAccepted"
  | "unknownId404";

interface Violation {
  readonly request: FuzzRequest;
  readonly status: number | undefined;
  readonly detail: string;
}

const violations = new Map<Property, Violation[]>();
const checked: Partial<Record<Property, number>> = {};
const check = (property: Property) => {
  checked[property] = (checked[property] ?? 0) + 1;
};

/**
 * Raw non-ASCII bytes (and DEL) in the request line are not valid HTTP (a request target is ASCII), so
 * they reach no route: what the server answers them is kept apart from the API's own answers.
 */
const hasRawBytes = (request: FuzzRequest) => /[\u007f-\u00ff]/.test(request.path);

function violate(
  reported: Property,
  request: FuzzRequest,
  status: number | undefined,
  detail: string,
) {
  const property =
    hasRawBytes(request) && (reported === "answered" || reported === "errorShape")
      ? "rawBytesInPath"
      : reported;
  const list = violations.get(property) ?? [];
  list.push({ request, status, detail });
  violations.set(property, list);
}

function excerpt(text: string, max = 160): string {
  return text.length <= max ? text : `${text.slice(0, max)}...(${text.length} chars)`;
}

function checkAnswer(request: FuzzRequest, answer: RawAnswer, token: string): void {
  const { status, text } = answer;
  check("below500");
  check("noLeak");
  if (hasRawBytes(request)) check("rawBytesInPath");
  else for (const property of ["answered", "errorShape"] as const) check(property);
  if (status >= 500) violate("below500", request, status, excerpt(text));
  if (status >= 400) {
    const error = (answer.json as any)?.error;
    const shaped =
      answer.json !== null &&
      typeof answer.json === "object" &&
      !Array.isArray(answer.json) &&
      error !== null &&
      typeof error === "object" &&
      typeof error.code === "string" &&
      typeof error.message === "string";
    if (!shaped) violate("errorShape", request, status, excerpt(text));
  }
  const everything = `${text}\n${JSON.stringify(answer.headers)}`;
  const leaks = [
    ["a stack trace", "    at "],
    ["a file path", "/work/"],
    ["a file path", PROJECT_ROOT],
    ["a file path", "node_modules"],
    ["the token", token],
  ].filter(([, needle]) => needle && everything.includes(needle as string));
  for (const [what, needle] of leaks) {
    const at = everything.indexOf(needle as string);
    const shown =
      what === "the token"
        ? "<token>"
        : excerpt(everything.slice(Math.max(0, at - 60), at + 100), 200);
    violate("noLeak", request, status, `${what}: ${shown}`);
  }

  const reached = routeOf(request.method, request.path);
  if (!reached?.plain) return; // a path that routes nowhere is API Gateway's 403 before any token check
  if (request.auth === "none") check("missingToken401");
  if (request.auth === "wrong" || request.auth === "adminWrong") check("wrongToken403");
  if (request.auth === "right" || request.auth === "admin") check("rightTokenAccepted");
  if (request.auth === "none" && status !== 401)
    violate("missingToken401", request, status, excerpt(text));
  if ((request.auth === "wrong" || request.auth === "adminWrong") && status !== 403)
    violate("wrongToken403", request, status, excerpt(text));
  if ((request.auth === "right" || request.auth === "admin") && (status === 401 || status === 403))
    violate("rightTokenAccepted", request, status, excerpt(text));

  // An id that names nothing is a 404, whatever its form: checked where nothing else is asked
  // (a request with no body, no query string and no Idempotency-Key, with a valid token: a key
  // that is malformed or used before is answered 400 or 409 first).
  const { route, params } = reached;
  const plainRequest =
    (request.auth === "right" || request.auth === "admin") &&
    request.body === undefined &&
    !Object.keys(request.headers).some((name) => name.toLowerCase() === "idempotency-key") &&
    !request.path.includes("?") &&
    !request.path.includes("#") &&
    route.template.includes("{batchId}");
  if (!plainRequest) return;
  const batch = known.get(params.batchId ?? "");
  const jobNamesNothing =
    route.template.includes("{jobId}") &&
    batch !== undefined &&
    batch.jobs.length > 0 &&
    !batch.jobs.some((j) => j.jobId === params.jobId);
  const namesNothing = batch === undefined || jobNamesNothing;
  if (namesNothing) check("unknownId404");
  if (namesNothing && status !== 404)
    violate("unknownId404", request, status, `${JSON.stringify(params)} -> ${excerpt(text)}`);
}

function describeRequest(request: FuzzRequest, token: string): string {
  const redact = (text: string) => text.split(token).join("<token>");
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([k, v]) => [k, excerpt(redact(v), 60)]),
  );
  const body =
    request.body === undefined
      ? ""
      : ` body(${Buffer.byteLength(request.body)} bytes)=${JSON.stringify(
          excerpt(
            Buffer.isBuffer(request.body) ? request.body.toString("latin1") : request.body,
            200,
          ),
        )}`;
  return `#${request.index} ${request.method} ${JSON.stringify(excerpt(request.path, 200))} auth=${request.auth} headers=${JSON.stringify(headers)}${body}`;
}

function report(property: Property, token: string): string {
  const list = violations.get(property) ?? [];
  const kinds = new Map<string, Violation>();
  for (const v of list) {
    const kind = `${v.status} ${v.detail.slice(0, 40)}`;
    if (!kinds.has(kind)) kinds.set(kind, v);
  }
  const lines = [...kinds.values()]
    .slice(0, EXAMPLES)
    .map(
      (v) =>
        `  -> ${v.status ?? "no answer"} ${v.detail}\n     for ${describeRequest(v.request, token)}`,
    );
  return `${list.length} of ${checked[property] ?? 0} requests checked, ${kinds.size} kinds (seed ${SEED}, replay with STEPBATCH_FAULT_SEED=${SEED}); one of each of the first ${lines.length} kinds:\n${lines.join("\n")}`;
}

// ---------------------------------------------------------------------------------------------

let stack: LocalStack;
let census: { batchId: string; status: number; results: number; by?: string }[] = [];
let listedAfter: RawAnswer | undefined;
let censusError = "";
const figures = {
  seed: SEED,
  requests: REQUESTS,
  concurrency: CONCURRENCY,
  durationMs: 0,
  byStatus: {} as Record<string, number>,
  byRoute: {} as Record<string, number>,
  liveBatchesSubmitted: 0,
  batchesKnown: 0,
  cancelsAnsweredOnLiveBatches: 0,
  keeperErrors: [] as string[],
  violations: {} as Record<string, number>,
  checked,
  batchesListedAfter: 0,
};

/** Keeps `LIVE_BATCHES` real batches running until `done` says stop. */
async function keepBatchesRunning(done: () => boolean): Promise<void> {
  const connection = { apiUrl: stack.apiUrl, token: stack.token };
  let submitted = 0;
  while (!done() && submitted < MAX_LIVE_SUBMITS) {
    try {
      for (const batch of known.values()) {
        if (!batch.live) continue;
        const answer = await call(connection, "GET", `/batches/${batch.batchId}`);
        const status = (answer.json as any)?.status;
        if (answer.status !== 200 || TERMINAL_BATCH.includes(status)) batch.live = false;
      }
      const running = [...known.values()].filter((b) => b.live).length;
      for (let i = running; i < LIVE_BATCHES && submitted < MAX_LIVE_SUBMITS; i++) {
        const answer = await call(connection, "POST", "/batches", {
          name: `fuzz live ${submitted}`,
          jobs: Array.from({ length: 12 }, (_, j) => ({
            name: `live-${submitted}-${j}`,
            input: { pages: 2, workMs: 200 },
          })),
          concurrency: 2,
        });
        submitted++;
        figures.liveBatchesSubmitted++;
        learn("submit", answer);
        const batch = known.get((answer.json as any)?.batchId);
        if (answer.status === 202 && batch) batch.live = true;
      }
    } catch (error) {
      // The fuzzer's own checks report a stack that stops answering; keep count here.
      figures.keeperErrors.push((error as Error).message);
      if (figures.keeperErrors.length > 5) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500)); // pacing, not a wait for a state
  }
}

beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    logLevel: process.env.STEPBATCH_LOG_LEVEL ?? "SILENT",
  });
  const token = stack.token;
  const started = Date.now();
  const generator = new Generator(new Dice(SEED), token);

  // Prepare: real batches running before the first random request.
  let fuzzing = true;
  const keeper = LIVE_BATCHES > 0 ? keepBatchesRunning(() => !fuzzing) : Promise.resolve();
  if (LIVE_BATCHES > 0)
    await waitUntil(() => [...known.values()].some((b) => b.live), "a live batch");

  // Act: the random requests, CONCURRENCY at a time.
  let next = 0;
  const worker = async () => {
    while (next < REQUESTS) {
      const request = generator.request(next++);
      const live = known.get(routeOf(request.method, request.path)?.params.batchId ?? "")?.live;
      let answer: RawAnswer;
      try {
        answer = await rawRequest(stack.apiUrl, {
          method: request.method,
          path: request.path,
          headers: request.headers,
          ...(request.body !== undefined ? { body: request.body } : {}),
        });
      } catch (error) {
        check(hasRawBytes(request) ? "rawBytesInPath" : "answered");
        if (!hasRawBytes(request)) check("errorShape");
        violate("answered", request, undefined, (error as Error).message);
        continue;
      }
      figures.byStatus[answer.status] = (figures.byStatus[answer.status] ?? 0) + 1;
      figures.byRoute[request.intended] = (figures.byRoute[request.intended] ?? 0) + 1;
      if (live && request.intended.startsWith("cancel") && answer.status === 200)
        figures.cancelsAnsweredOnLiveBatches++;
      learn(request.intended, answer);
      checkAnswer(request, answer, token);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  fuzzing = false;
  await keeper;

  // Afterwards: still serving? Every listed batch readable?
  const connection = { apiUrl: stack.apiUrl, token };
  listedAfter = await call(connection, "GET", "/batches").catch(() => undefined);
  const listed = await listEveryBatch(connection).catch((error: Error) => {
    censusError = error.message;
    return [];
  });
  figures.batchesListedAfter = listed.length;
  census = [];
  for (let i = 0; i < listed.length; i += 4) {
    census.push(
      ...(await Promise.all(
        listed.slice(i, i + 4).map(async ({ batchId }) => {
          const path = `/batches/${encodeURIComponent(batchId)}`;
          const noAnswer = (error: Error) => ({ status: 0, json: undefined, text: error.message });
          const batch = await call(connection, "GET", path).catch(noAnswer);
          const results = await call(connection, "GET", `${path}/results`).catch(noAnswer);
          const by = (batch.json as any)?.cancel?.by;
          return { batchId, status: batch.status, results: results.status, ...(by ? { by } : {}) };
        }),
      )),
    );
  }
  figures.durationMs = Date.now() - started;
  figures.batchesKnown = known.size;
  for (const [property, list] of violations) figures.violations[property] = list.length;
  writeFigures("fuzz", figures);
}, 900_000);

afterAll(async () => stack?.stop());

async function waitUntil(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe(`${REQUESTS} seeded random requests over every route, with live batches (seed ${SEED})`, () => {
  it("gets an answer to every request", () => {
    expect(violations.get("answered") ?? [], report("answered", stack.token)).toHaveLength(0);
  });

  it("answers raw non-ASCII bytes in the request line with a JSON error too", () => {
    expect(
      violations.get("rawBytesInPath") ?? [],
      report("rawBytesInPath", stack.token),
    ).toHaveLength(0);
  });

  it("answers every request with a status below 500", () => {
    expect(violations.get("below500") ?? [], report("below500", stack.token)).toHaveLength(0);
  });

  it('answers every error as {"error": {"code", "message"}}', () => {
    expect(violations.get("errorShape") ?? [], report("errorShape", stack.token)).toHaveLength(0);
  });

  it("never answers with a stack trace, a file path or the token", () => {
    expect(violations.get("noLeak") ?? [], report("noLeak", stack.token)).toHaveLength(0);
  });

  it("refuses a request without a token with 401, and one with a wrong token with 403", () => {
    expect(
      violations.get("missingToken401") ?? [],
      report("missingToken401", stack.token),
    ).toHaveLength(0);
    expect(
      violations.get("wrongToken403") ?? [],
      report("wrongToken403", stack.token),
    ).toHaveLength(0);
  });

  it("never refuses the right token, sent as a bearer token or as X-Admin-Token", () => {
    expect(
      violations.get("rightTokenAccepted") ?? [],
      report("rightTokenAccepted", stack.token),
    ).toHaveLength(0);
  });

  it("answers 404 for an id that names nothing, whatever its form", () => {
    expect(violations.get("unknownId404") ?? [], report("unknownId404", stack.token)).toHaveLength(
      0,
    );
  });

  it("kept real batches running, and cancelled some of them while they ran", () => {
    if (LIVE_BATCHES === 0 || REQUESTS < 200) return; // too few requests to be sure to hit one
    expect(figures.liveBatchesSubmitted, JSON.stringify(figures)).toBeGreaterThan(0);
    expect(figures.cancelsAnsweredOnLiveBatches, JSON.stringify(figures)).toBeGreaterThan(0);
  });

  it("is still serving afterwards: GET /batches answers 200", () => {
    expect(listedAfter?.status, `seed ${SEED}: ${listedAfter?.text.slice(0, 300)}`).toBe(200);
  });

  it("lists no batch without its record and its results", () => {
    expect(census.length, `seed ${SEED}: nothing listed ${censusError}`).toBeGreaterThan(0);
    const broken = census.filter((c) => c.status !== 200 || c.results !== 200);
    expect(broken, `seed ${SEED}: ${JSON.stringify(broken.slice(0, EXAMPLES))}`).toEqual([]);
  });

  it("never records a caller as 'system', whatever X-Stepbatch-Actor says", () => {
    const posing = census.filter((c) => c.by === "system");
    expect(posing, `seed ${SEED}: ${JSON.stringify(posing.slice(0, EXAMPLES))}`).toEqual([]);
  });
});
