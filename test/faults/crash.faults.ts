import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Connection,
  call,
  type ListedBatch,
  listEveryBatch,
  TERMINAL_BATCH,
  TERMINAL_JOB,
} from "../helpers/batch-census.ts";
import { Dice, envInt, faultSeed } from "../helpers/dice.ts";
import { writeFaultLog, writeFigures } from "../helpers/fault-figures.ts";
import { type LocalStackProcess, spawnLocalStack } from "../helpers/local-process.ts";
import type { RawAnswer } from "../helpers/raw-requests.ts";

/**
 * Crash runs: the local stack as a real process (what `npm start` runs), killed with SIGKILL at
 * random moments, (a) during a flood of submits, (b) during cancels of running batches, (c) as
 * batches are ending, then started again on the same data folder. After each restart every batch
 * listed must reach a terminal state within a bounded wait (batches left queued with no execution
 * are started by the sweep the stack runs at start-up), have its record and its results, and every
 * job of a terminal batch must be terminal; a replay of any Idempotency-Key sent before a kill,
 * made as soon as the stack is back, must answer 202 with the batch any earlier answer named.
 *
 * Seeded: STEPBATCH_FAULT_SEED=<seed> replays the plan (the kill moments depend on timing too).
 * STEPBATCH_CRASH_ROUNDS (default 3) kills per scenario, STEPBATCH_CRASH_RECOVERY_MS (default
 * 90,000) the bound after each restart. Counts of the last run: <os temp dir>/stepbatch-faults/crash.json.
 */
const SEED = faultSeed();
const ROUNDS = envInt("STEPBATCH_CRASH_ROUNDS", 3);
const RECOVERY_MS = envInt("STEPBATCH_CRASH_RECOVERY_MS", 90_000);
const POLL_MS = 500;
const EXAMPLES = 5;

type Property =
  | "restarts"
  | "terminal"
  | "jobsTerminal"
  | "records"
  | "results"
  | "replays"
  | "kept";

interface Figures {
  rounds: number;
  kills: number;
  restarts: number;
  restartMs: number[];
  submitsSent: number;
  submitsAnswered202: number;
  submitsUnanswered: number;
  submitsOther: Record<string, number>;
  idempotencyKeysSent: number;
  replays: number;
  replaysMatching: number;
  cancelsSent: number;
  cancelsAnswered: Record<string, number>;
  batchesListed: number;
  unfinishedAtRestart: number;
  recovered: number;
  stuck: number;
  recoveryMs: number[];
  killMoments: string[];
  roundMs: number[];
  restartNotes: string[];
  logs: string[];
  failures: Partial<Record<Property, number>>;
  dataDir?: string;
}

const figures: Record<string, Figures> = {};
const startedAt = Date.now();
const children = new Set<LocalStackProcess>();

function saveFigures(): string {
  const all = Object.values(figures);
  const sum = (pick: (f: Figures) => number) => all.reduce((total, f) => total + pick(f), 0);
  return writeFigures("crash", {
    seed: SEED,
    rounds: ROUNDS,
    recoveryBoundMs: RECOVERY_MS,
    durationMs: Date.now() - startedAt,
    totals: {
      kills: sum((f) => f.kills),
      restarts: sum((f) => f.restarts),
      batchesListed: sum((f) => f.batchesListed),
      submitsAnswered202: sum((f) => f.submitsAnswered202),
      idempotencyKeysSent: sum((f) => f.idempotencyKeysSent),
      cancelsSent: sum((f) => f.cancelsSent),
      unfinishedAtRestart: sum((f) => f.unfinishedAtRestart),
      recovered: sum((f) => f.recovered),
      stuck: sum((f) => f.stuck),
    },
    scenarios: figures,
  });
}

afterAll(() => {
  for (const child of children) if (child.child.exitCode === null) child.child.kill("SIGKILL");
  saveFigures();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const excerpt = (text: string, max = 200) =>
  text.length <= max ? text : `${text.slice(0, max)}...(${text.length} chars)`;
const idOf = (answer: RawAnswer | undefined): string | undefined => {
  const batchId = (answer?.json as any)?.batchId;
  return typeof batchId === "string" ? batchId : undefined;
};

/** What one submit sent and what came back before the kill. */
interface SentSubmit {
  readonly body: unknown;
  readonly key?: string;
  answer?: RawAnswer;
  error?: string;
}

/**
 * One crash scenario: one data folder, one stack process at a time. `act` drives the stack and
 * kills it; the scenario restarts it and assesses what it finds.
 */
class CrashScenario {
  readonly failures = new Map<Property, string[]>();
  readonly figures: Figures = {
    rounds: 0,
    kills: 0,
    restarts: 0,
    restartMs: [],
    submitsSent: 0,
    submitsAnswered202: 0,
    submitsUnanswered: 0,
    submitsOther: {},
    idempotencyKeysSent: 0,
    replays: 0,
    replaysMatching: 0,
    cancelsSent: 0,
    cancelsAnswered: {},
    batchesListed: 0,
    unfinishedAtRestart: 0,
    recovered: 0,
    stuck: 0,
    recoveryMs: [],
    killMoments: [],
    roundMs: [],
    restartNotes: [],
    logs: [],
    failures: {},
  };
  /** Every Idempotency-Key sent, with its body and every batch id answered for it before a kill. */
  readonly keys = new Map<
    string,
    { body: unknown; answered: Set<string>; round: number; reportedSplit?: boolean }
  >();
  /** Batches whose submit was answered 202 before a kill. */
  readonly acknowledged = new Map<string, number>();
  readonly dir = mkdtempSync(join(tmpdir(), "stepbatch-crash-"));
  stack: LocalStackProcess | undefined;
  /** When the current stack process printed its banner. */
  upAt = 0;
  round = 0;

  constructor(
    readonly name: string,
    readonly dice: Dice,
  ) {
    figures[name] = this.figures;
  }

  get connection(): Connection {
    if (!this.stack) throw new Error(`${this.name}: the local stack is not running`);
    return { apiUrl: this.stack.apiUrl, token: this.stack.token };
  }

  fail(property: Property, message: string): void {
    const list = this.failures.get(property) ?? [];
    list.push(`round ${this.round}: ${message}`);
    this.failures.set(property, list);
    this.figures.failures[property] = list.length;
  }

  report(property: Property): string {
    const list = this.failures.get(property) ?? [];
    return `${this.name}, seed ${SEED} (replay with STEPBATCH_FAULT_SEED=${SEED}), ${list.length} failure(s):\n  ${list.slice(0, EXAMPLES).join("\n  ")}`;
  }

  async start(): Promise<boolean> {
    const began = Date.now();
    try {
      this.stack = await spawnLocalStack(["--data-dir", this.dir]);
      children.add(this.stack);
      this.upAt = Date.now();
      this.figures.restartMs.push(this.upAt - began);
      const note = /stepbatch: (\d+ execution\(s\) were running[^\n]*)/.exec(
        this.stack.output(),
      )?.[1];
      if (note) this.figures.restartNotes.push(`round ${this.round}: ${note}`);
      return true;
    } catch (error) {
      this.stack = undefined;
      this.fail(
        "restarts",
        `the stack did not start again on ${this.dir}: ${excerpt((error as Error).message, 1500)}`,
      );
      return false;
    }
  }

  async kill(moment: string): Promise<void> {
    const stack = this.stack;
    if (!stack) return;
    stack.child.kill("SIGKILL");
    await stack.exited;
    children.delete(stack);
    if (this.failures.size > 0) {
      // What the stack printed (handler errors included), kept for the failures; never the token.
      const slug = this.name.replace(/\W+/g, "-");
      const output = stack.output().split(stack.token).join("<token>");
      this.figures.logs.push(writeFaultLog(`crash-${slug}-round${this.round}`, output));
    }
    this.stack = undefined;
    this.figures.kills++;
    this.figures.killMoments.push(`round ${this.round}: ${moment}`);
  }

  /** Sends a submit, recording the key, the answer or the error. */
  async submit(body: unknown, key?: string): Promise<SentSubmit> {
    const sent: SentSubmit = { body, ...(key ? { key } : {}) };
    this.figures.submitsSent++;
    if (key) {
      const entry = this.keys.get(key) ?? { body, answered: new Set<string>(), round: this.round };
      this.keys.set(key, entry);
      this.figures.idempotencyKeysSent++;
    }
    try {
      sent.answer = await call(
        this.connection,
        "POST",
        "/batches",
        body,
        key ? { "idempotency-key": key } : {},
      );
      const batchId = idOf(sent.answer);
      if (sent.answer.status === 202 && batchId) {
        this.figures.submitsAnswered202++;
        this.acknowledged.set(batchId, this.round);
        if (key) this.keys.get(key)?.answered.add(batchId);
      } else {
        const status = String(sent.answer.status);
        this.figures.submitsOther[status] = (this.figures.submitsOther[status] ?? 0) + 1;
      }
    } catch (error) {
      sent.error = (error as Error).message;
      this.figures.submitsUnanswered++;
    }
    return sent;
  }

  /**
   * After a restart: replays every Idempotency-Key sent so far, as a client retrying at once
   * would; waits (bounded) until every batch listed is terminal with every job terminal; then
   * checks every listed batch's record and results, and that every batch acknowledged before a
   * kill is still there. (A replay starts its batch if it is still queued; batches submitted
   * without a key are left to the sweep.)
   */
  async assess(): Promise<boolean> {
    const connection = this.connection;
    const began = this.upAt; // the bound counts from the moment the stack is back
    await this.replayKeys();
    const deadline = began + RECOVERY_MS;
    const settled = new Set<string>();
    let unfinishedAtRestart: Set<string> | undefined;
    let listed: ListedBatch[] = [];
    let pending = new Map<string, string>();
    for (;;) {
      try {
        listed = await listEveryBatch(connection);
      } catch (error) {
        pending = new Map([["(the list)", `GET /batches -> ${(error as Error).message}`]]);
        if (Date.now() > deadline) break;
        await sleep(POLL_MS);
        continue;
      }
      unfinishedAtRestart ??= new Set(
        listed.filter((b) => !TERMINAL_BATCH.includes(b.status)).map((b) => b.batchId),
      );
      pending = new Map();
      const unsettled = listed.filter((b) => !settled.has(b.batchId));
      for (let i = 0; i < unsettled.length; i += 8) {
        await Promise.all(
          unsettled.slice(i, i + 8).map(async ({ batchId }) => {
            const state = await this.stateOf(batchId);
            if (state === "settled") settled.add(batchId);
            else pending.set(batchId, state);
          }),
        );
      }
      if (pending.size === 0 || Date.now() > deadline) break;
      await sleep(POLL_MS);
    }
    const recoveryMs = Date.now() - began;
    this.figures.recoveryMs.push(recoveryMs);
    this.figures.batchesListed = listed.length;
    this.figures.unfinishedAtRestart += unfinishedAtRestart?.size ?? 0;
    const stuck = [...(unfinishedAtRestart ?? [])].filter((id) => pending.has(id));
    this.figures.recovered += (unfinishedAtRestart?.size ?? 0) - stuck.length;
    this.figures.stuck += pending.size;
    for (const [batchId, state] of pending) {
      const property: Property = state.startsWith("jobs:")
        ? "jobsTerminal"
        : state.startsWith("GET")
          ? "records"
          : "terminal";
      this.fail(property, `${batchId} after ${recoveryMs} ms: ${state}`);
    }

    // Every listed batch: its record and its results.
    for (let i = 0; i < listed.length; i += 8) {
      await Promise.all(
        listed.slice(i, i + 8).map(async ({ batchId }) => {
          const path = `/batches/${encodeURIComponent(batchId)}`;
          const record = await call(connection, "GET", path).catch((e: Error) => e);
          if (record instanceof Error || record.status !== 200)
            this.fail(
              "records",
              `GET ${path} -> ${record instanceof Error ? record.message : `${record.status} ${excerpt(record.text)}`}`,
            );
          const results = await call(connection, "GET", `${path}/results`).catch((e: Error) => e);
          if (results instanceof Error || results.status !== 200)
            this.fail(
              "results",
              `GET ${path}/results -> ${results instanceof Error ? results.message : `${results.status} ${excerpt(results.text)}`}`,
            );
        }),
      );
    }

    // Every batch acknowledged (202) before a kill is still there.
    const listedIds = new Set(listed.map((b) => b.batchId));
    for (const [batchId, round] of this.acknowledged) {
      if (!listedIds.has(batchId))
        this.fail("kept", `${batchId}, answered 202 in round ${round}, is no longer listed`);
    }
    return pending.size === 0;
  }

  /** "settled" when the batch and all its jobs are terminal; else what is still open. */
  private async stateOf(batchId: string): Promise<string> {
    const answer = await call(
      this.connection,
      "GET",
      `/batches/${encodeURIComponent(batchId)}`,
    ).catch((e: Error) => e);
    if (answer instanceof Error) return `GET -> ${answer.message}`;
    if (answer.status !== 200) return `GET -> ${answer.status} ${excerpt(answer.text)}`;
    const batch = answer.json as any;
    if (!TERMINAL_BATCH.includes(batch?.status))
      return `status ${batch?.status}, progress ${JSON.stringify(batch?.progress)}, created ${batch?.createdAt}`;
    const open = (batch.jobs ?? []).filter((j: any) => !TERMINAL_JOB.includes(j?.status));
    if (open.length > 0)
      return `jobs: batch ${batch.status} but ${open.length} job(s) not terminal, e.g. ${JSON.stringify(open.slice(0, 3))}`;
    return "settled";
  }

  /** Replays every key sent so far with its body: 202, and the batch any earlier answer named. */
  private async replayKeys(): Promise<void> {
    await Promise.all(
      [...this.keys.entries()].map(async ([key, entry]) => {
        this.figures.replays++;
        const sentAt = Date.now();
        const answer = await call(this.connection, "POST", "/batches", entry.body, {
          "idempotency-key": key,
        }).catch((e: Error) => e);
        if (answer instanceof Error) {
          this.fail(
            "replays",
            `key ${key} (sent in round ${entry.round}): no answer: ${answer.message}`,
          );
          return;
        }
        const batchId = idOf(answer);
        if (entry.answered.size > 1 && !entry.reportedSplit) {
          entry.reportedSplit = true;
          this.fail(
            "replays",
            `key ${key} (round ${entry.round}) was answered with ${entry.answered.size} different batches before the kill: ${[...entry.answered].join(", ")}`,
          );
        }
        const earlier = [...entry.answered][0];
        if (answer.status !== 202 || !batchId || (earlier && batchId !== earlier)) {
          this.fail(
            "replays",
            `key ${key} (sent in round ${entry.round}, earlier answer ${earlier ?? "none"}) -> ${answer.status} after ${Date.now() - sentAt} ms: ${excerpt(answer.text)}`,
          );
          return;
        }
        this.figures.replaysMatching++;
        entry.answered.add(batchId);
      }),
    );
  }

  /** Runs the rounds: act (which kills), restart, assess; stops at a stack that does not come back or a round that does not recover. */
  async run(act: (scenario: CrashScenario) => Promise<void>): Promise<void> {
    // Prepare: the stack on a fresh data folder.
    if (!(await this.start())) return;
    for (this.round = 1; this.round <= ROUNDS; this.round++) {
      const roundStarted = Date.now();
      this.figures.rounds = this.round;
      // Act: drive the stack and kill it at a random moment; start it again on the same folder.
      await act(this);
      if (this.stack) await this.kill("at the end of the round (the act did not kill)");
      this.figures.restarts++;
      if (!(await this.start())) break;
      // Assess: what the restarted stack makes of everything in the folder.
      const recovered = await this.assess();
      this.figures.roundMs.push(Date.now() - roundStarted);
      saveFigures();
      // A folder with batches that did not recover would fail every later round the same way.
      if (!recovered) break;
    }
    if (this.stack) {
      await this.kill("after the last round");
      this.figures.kills--; // that last kill is tidying up, not a crash
      this.figures.killMoments.pop();
    }
    if (this.failures.size === 0) rmSync(this.dir, { recursive: true, force: true });
    else this.figures.dataDir = this.dir;
    saveFigures();
  }
}

/** Kills the stack once `count` of the promises have settled, after a small random delay. */
function killAfter(
  scenario: CrashScenario,
  promises: readonly Promise<unknown>[],
  count: number,
  jitterMs: number,
  what: string,
): Promise<void> {
  return new Promise((resolve) => {
    let settled = 0;
    const fire = () =>
      setTimeout(() => {
        scenario
          .kill(`${what}: after ${settled} of ${promises.length} answers + ${jitterMs} ms`)
          .then(resolve);
      }, jitterMs);
    if (count <= 0) fire();
    const onSettled = () => {
      settled++;
      if (settled === count) fire();
    };
    for (const promise of promises) promise.then(onSettled, onSettled);
  });
}

const smallJobs = (count: number, input: Record<string, number>, prefix = "j") =>
  Array.from({ length: count }, (_, j) => ({ name: `${prefix}${j}`, input }));

// ---------------------------------------------------------------------------------------------
// (a) A flood of submits, some with an Idempotency-Key (a few sent twice at once).

async function floodOfSubmits(s: CrashScenario): Promise<void> {
  const d = s.dice;
  const plans = Array.from({ length: d.int(10, 24) }, (_, i) => {
    const body = {
      name: `flood r${s.round} #${i}`,
      jobs: smallJobs(d.int(1, 40), { pages: 1, workMs: d.pick([0, 50]) }),
      concurrency: d.int(2, 10),
    };
    const key = d.chance(0.5) ? `crash-${SEED}-r${s.round}-${i}` : undefined;
    const twice = key !== undefined && d.chance(0.25);
    return { body, key, twice };
  });
  // Act: every submit at once; the kill lands after a random number of answers.
  const killAt = d.int(0, plans.length - 1);
  const jitter = d.int(0, killAt === 0 ? 300 : 40);
  const sends = plans.flatMap(({ body, key, twice }) => {
    const first = s.submit(body, key);
    return twice ? [first, s.submit(body, key)] : [first];
  });
  await killAfter(s, sends, killAt, jitter, "during a flood of submits");
  await Promise.allSettled(sends);
}

// ---------------------------------------------------------------------------------------------
// (b) Cancels of running batches: whole batches, subsets and single jobs, at once.

async function cancelsOfRunningBatches(s: CrashScenario): Promise<void> {
  const d = s.dice;
  const batches: { batchId: string; jobs: { jobId: string; name: string }[] }[] = [];
  for (let b = d.int(3, 5); b > 0; b--) {
    const sent = await s.submit({
      name: `cancel r${s.round} #${b}`,
      jobs: smallJobs(d.int(6, 20), { pages: 4, workMs: 4000 }, `c${b}-`),
      concurrency: 3,
    });
    const batchId = idOf(sent.answer);
    if (batchId) batches.push({ batchId, jobs: (sent.answer?.json as any)?.jobs ?? [] });
  }
  // Prepare: every batch has jobs running.
  const deadline = Date.now() + 30_000;
  for (const { batchId } of batches) {
    for (;;) {
      const answer = await call(s.connection, "GET", `/batches/${batchId}`);
      if ((answer.json as any)?.progress?.running > 0 || Date.now() > deadline) break;
      await sleep(100);
    }
  }
  // Act: every cancel at once; the kill lands after a random number of answers.
  const cancels: Promise<unknown>[] = [];
  const send = (path: string, body?: unknown) => {
    s.figures.cancelsSent++;
    const sent = call(s.connection, "POST", path, body).then(
      (answer) => {
        const key = String(answer.status);
        s.figures.cancelsAnswered[key] = (s.figures.cancelsAnswered[key] ?? 0) + 1;
      },
      () => undefined,
    );
    cancels.push(sent);
  };
  for (const { batchId, jobs } of batches) {
    for (let n = d.chance(0.3) ? 2 : 1; n > 0; n--) {
      const kind = d.weighted<"whole" | "subset" | "single">([
        [4, "whole"],
        [3, "subset"],
        [3, "single"],
      ]);
      if (kind === "whole")
        send(`/batches/${batchId}/cancel`, { reason: `crash round ${s.round}` });
      if (kind === "subset")
        send(`/batches/${batchId}/cancel`, {
          jobs: d.some(jobs, d.int(1, 5)).map((j) => (d.chance(0.5) ? j.jobId : j.name)),
        });
      if (kind === "single")
        for (const job of d.some(jobs, d.int(1, 3)))
          send(`/batches/${batchId}/jobs/${job.jobId}/cancel`, { reason: "crash single" });
    }
  }
  const killAt = d.int(0, cancels.length - 1);
  await killAfter(s, cancels, killAt, d.int(0, killAt === 0 ? 200 : 40), "during cancels");
  await Promise.allSettled(cancels);
}

// ---------------------------------------------------------------------------------------------
// (c) Finalize: batches of tiny jobs, killed when some have succeeded and others still run.

async function batchesEnding(s: CrashScenario): Promise<void> {
  // Prepare: one long batch (40 jobs one at a time) and a few short ones, so they end apart.
  const d = s.dice;
  const ids: string[] = [];
  const sizes = [40, ...Array.from({ length: d.int(3, 6) }, () => d.int(1, 20))];
  for (const [b, size] of sizes.entries()) {
    const sent = await s.submit({
      name: `finalize r${s.round} #${b}`,
      jobs: smallJobs(size, { pages: 1, workMs: 0 }),
      concurrency: b === 0 ? 1 : d.int(1, 10),
    });
    const batchId = idOf(sent.answer);
    if (batchId) ids.push(batchId);
  }
  // Act: the kill lands just after the first batches succeed, while the others still run.
  const jitter = d.int(0, 50);
  const deadline = Date.now() + 60_000;
  let moment = "no batch succeeded within 60 s";
  for (;;) {
    const answer = await call(s.connection, "GET", "/batches?limit=100").catch(() => undefined);
    const statuses = ((answer?.json as any)?.batches ?? [])
      .filter((b: ListedBatch) => ids.includes(b.batchId))
      .map((b: ListedBatch) => b.status);
    const succeeded = statuses.filter((status: string) => status === "succeeded").length;
    const ended = statuses.filter((status: string) => TERMINAL_BATCH.includes(status)).length;
    if (succeeded > 0 && ended < ids.length) {
      moment = `as batches end: ${succeeded} of ${ids.length} succeeded, ${ids.length - ended} still running`;
      break;
    }
    if (ended === ids.length && ids.length > 0) {
      moment = "every batch had ended already";
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(25);
  }
  await sleep(jitter);
  await s.kill(`${moment} + ${jitter} ms`);
}

// ---------------------------------------------------------------------------------------------

const SCENARIOS = [
  { name: "a flood of submits", act: floodOfSubmits, idempotent: true },
  { name: "cancels of running batches", act: cancelsOfRunningBatches, idempotent: false },
  { name: "batches ending", act: batchesEnding, idempotent: false },
] as const;

for (const [index, { name, act, idempotent }] of SCENARIOS.entries()) {
  describe(`the local stack killed (SIGKILL) during ${name}, ${ROUNDS} time(s), and started again (seed ${SEED})`, () => {
    const scenario = new CrashScenario(name, new Dice(SEED + index));
    beforeAll(() => scenario.run(act), ROUNDS * (RECOVERY_MS + 240_000));

    it("starts again on the same data folder after every kill", () => {
      expect(scenario.failures.get("restarts") ?? [], scenario.report("restarts")).toEqual([]);
    });

    it(`brings every batch it lists to a terminal state within ${RECOVERY_MS / 1000} s of the restart`, () => {
      expect(scenario.failures.get("terminal") ?? [], scenario.report("terminal")).toEqual([]);
    });

    it("ends every job of a terminal batch", () => {
      expect(scenario.failures.get("jobsTerminal") ?? [], scenario.report("jobsTerminal")).toEqual(
        [],
      );
    });

    it("lists no batch without its record: GET /batches/{id} answers 200 for every listed id", () => {
      expect(scenario.failures.get("records") ?? [], scenario.report("records")).toEqual([]);
    });

    it("answers GET /batches/{id}/results with 200 for every listed batch", () => {
      expect(scenario.failures.get("results") ?? [], scenario.report("results")).toEqual([]);
    });

    it("keeps every batch whose submit was answered 202 before a kill", () => {
      expect(scenario.failures.get("kept") ?? [], scenario.report("kept")).toEqual([]);
    });

    if (idempotent)
      it("answers a replay of every Idempotency-Key sent before a kill with 202 and the batch first answered", () => {
        expect(
          scenario.figures.idempotencyKeysSent,
          JSON.stringify(scenario.figures),
        ).toBeGreaterThan(0);
        expect(scenario.failures.get("replays") ?? [], scenario.report("replays")).toEqual([]);
      });
  });
}
