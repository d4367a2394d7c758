import { describe, expect, it } from "vitest";
import type { JobRecord } from "../../../functions/core/model.ts";
import { PRICES } from "../../../functions/core/prices.ts";
import { Quiescence, savingsOf } from "../../../functions/core/quiesce.ts";
import { jobTransitions } from "../../../functions/core/transitions.ts";
import {
  describeUrl,
  signatureOf,
  verifySignature,
  WebhookNotifier,
  type WebhookPoster,
} from "../../../functions/core/webhook.ts";
import { MemoryBatchEvents, MemoryBatchStore } from "../../helpers/memory-ports.ts";

const PHASES = [
  { name: "Ingest", memoryMb: 1024 },
  { name: "Digest", memoryMb: 2048 },
  { name: "Commit", memoryMb: 1024 },
];

const at = (seconds: number) => new Date(Date.UTC(2026, 10, 23, 12, 0, seconds)).toISOString();

const aJob = (jobId: string, fields: Partial<JobRecord>): JobRecord => ({
  batchId: "b-1",
  jobId,
  name: jobId,
  input: {},
  status: "queued",
  phases: {},
  createdAt: at(0),
  ...fields,
});

const ran = (from: number, to: number, status: "succeeded" | "aborted" = "succeeded") => ({
  status,
  startedAt: at(from),
  endedAt: at(to),
  attempt: 1,
});

describe("what a cancel saved", () => {
  it("counts the phases cancelled jobs did not run, at this batch's own phase lengths, priced with the dated table", () => {
    // Prepare: Ingest took 10 s, Digest 20 s where they succeeded; one job stopped in Ingest,
    // one never started.
    const jobs = [
      aJob("done", {
        status: "succeeded",
        phases: { Ingest: ran(0, 10), Digest: ran(10, 30), Commit: ran(30, 34) },
      }),
      aJob("stopped", {
        status: "cancelled",
        wasInPhase: "Ingest",
        phases: { Ingest: ran(0, 3, "aborted") },
      }),
      aJob("never", { status: "cancelled" }),
    ];
    // Act
    const saved = savingsOf(jobs, PHASES);
    // Assess: stopped skips Digest and Commit; never skips all three.
    expect(saved.phaseRunsNotRun).toBe(5);
    expect(saved.phaseSecondsNotRun).toBe(20 + 4 + 10 + 20 + 4);
    const gbSeconds = 20 * 2 + 4 * 1 + (10 * 1 + 20 * 2 + 4 * 1);
    expect(saved.dollars).toBeCloseTo(
      gbSeconds * PRICES.lambdaArmPerGbSecond +
        5 * PRICES.lambdaPerRequest +
        10 * PRICES.stepFunctionsStandardPerTransition,
      6,
    );
    expect(saved.pricedWith).toEqual({ date: PRICES.date, region: PRICES.region });
  });

  it("says the seconds are unknown when no phase finished to go by", () => {
    // Act
    const saved = savingsOf([aJob("never", { status: "cancelled" })], PHASES);
    // Assess
    expect(saved).toMatchObject({ phaseRunsNotRun: 3, phaseSecondsNotRun: null, dollars: null });
  });
});

describe("quiescing a cancelled batch", () => {
  async function cancelledBatchWithStragglers(stragglers: string[]) {
    const store = new MemoryBatchStore();
    const events = new MemoryBatchEvents();
    const quiescence = new Quiescence(store, events, PHASES, () => new Date(at(9)));
    const jobs = ["j1", "j2", "j3"].map((id) =>
      aJob(id, {
        status: "cancelled",
        wasInPhase: "Ingest",
        phases: {
          Ingest: stragglers.includes(id)
            ? { status: "running", startedAt: at(0), attempt: 1 }
            : ran(0, 2, "aborted"),
        },
      }),
    );
    await store.createBatch(
      {
        batchId: "b-1",
        name: "b",
        status: "cancelled",
        executionArn: "arn",
        total: 3,
        concurrency: 3,
        createdAt: at(0),
        source: { kind: "api" },
        cancel: {
          requestedAt: at(1),
          by: "ops",
          reason: "wrong",
          scope: "batch",
          cancellationId: "c-1",
        },
      },
      jobs,
    );
    const batch = await store.getBatch("b-1");
    return { store, events, quiescence, batch: batch!, jobs };
  }

  const stopPhase = (store: MemoryBatchStore, jobId: string) =>
    store.transitionJob(
      "b-1",
      jobId,
      jobTransitions.abortPhase("Ingest", ran(0, 8, "aborted"), {}, at(8)),
    );

  it("quiesces when the last straggler's phase ends, and publishes once", async () => {
    // Prepare
    const { store, events, quiescence, batch, jobs } = await cancelledBatchWithStragglers([
      "j1",
      "j2",
    ]);
    await quiescence.batchEnded(batch, jobs);
    // Act
    await stopPhase(store, "j1");
    await quiescence.phaseEnded("b-1", "j1");
    const afterFirst = await store.getBatch("b-1");
    await stopPhase(store, "j2");
    await Promise.all([quiescence.phaseEnded("b-1", "j2"), quiescence.phaseEnded("b-1", "j2")]);
    await quiescence.batchEnded((await store.getBatch("b-1"))!, await store.listJobs("b-1"));
    // Assess
    expect(afterFirst?.quiescedAt).toBeUndefined();
    expect(afterFirst?.stillStopping).toEqual(["j2"]);
    const quiesced = await store.getBatch("b-1");
    expect(quiesced?.quiescedAt).toBe(at(9));
    expect(quiesced?.stragglers).toEqual(["j1", "j2"]);
    expect(events.quiesced).toHaveLength(1);
    expect(events.quiesced[0]).toMatchObject({
      batchId: "b-1",
      cancellationId: "c-1",
      secondsToQuiesce: 8,
      stragglers: [
        { jobId: "j1", phase: "Ingest", phaseStatus: "aborted", stoppedAt: at(8) },
        { jobId: "j2", phase: "Ingest", phaseStatus: "aborted", stoppedAt: at(8) },
      ],
    });
  });

  it("does not wait for a straggler whose phase ended while the batch was recording it", async () => {
    // Prepare: j1 was running when the jobs were read, and stopped before the stragglers were written.
    const { store, events, quiescence, batch, jobs } = await cancelledBatchWithStragglers(["j1"]);
    await stopPhase(store, "j1");
    await quiescence.phaseEnded("b-1", "j1"); // found nothing to leave yet
    // Act
    await quiescence.batchEnded(batch, jobs);
    // Assess
    expect((await store.getBatch("b-1"))?.quiescedAt).toBe(at(9));
    expect(events.quiesced).toHaveLength(1);
  });

  it("quiesces at once a batch that ends with nothing running, and never a batch that was not cancelled whole", async () => {
    // Prepare
    const { store, events, quiescence, batch, jobs } = await cancelledBatchWithStragglers([]);
    const subsetCancelled = {
      ...batch,
      batchId: "b-2",
      cancel: { ...batch.cancel!, scope: "subset" as const },
    };
    // Act
    await quiescence.batchEnded(batch, jobs);
    await quiescence.batchEnded(subsetCancelled, jobs);
    // Assess
    expect((await store.getBatch("b-1"))?.quiescedAt).toBe(at(9));
    expect(events.quiesced.map((event) => event.batchId)).toEqual(["b-1"]);
  });
});

describe("the webhook", () => {
  const secret = "whsec-0123456789abcdef";
  const event = { batchId: "b-1" } as Parameters<WebhookNotifier["quiesced"]>[0];

  async function notifierAnswering(...answers: (number | Error)[]) {
    const store = new MemoryBatchStore();
    await store.putWebhook("b-1", { url: "https://hooks.example.com/in?token=abc", secret });
    const sent: { body: string; headers: Record<string, string> }[] = [];
    const waits: number[] = [];
    const poster: WebhookPoster = {
      post: async (_url, body, headers) => {
        sent.push({ body, headers });
        const answer = answers.shift() ?? 204;
        if (answer instanceof Error) throw answer;
        return answer;
      },
    };
    const notifier = new WebhookNotifier(store, poster, {
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    return { store, sent, waits, notifier };
  }

  it("signs what it sends so that only the secret's holder can verify it", () => {
    // Prepare
    const now = new Date();
    const body = '{"type":"batch.quiesced"}';
    const header = signatureOf(secret, Math.floor(now.getTime() / 1000), body);
    // Act / Assess
    expect(verifySignature(header, secret, body, { now })).toBe(true);
    expect(verifySignature(header, "another-secret-0000", body, { now })).toBe(false);
    expect(verifySignature(header, secret, `${body}x`, { now })).toBe(false);
    expect(verifySignature(header, secret, body, { now: new Date(now.getTime() + 600_000) })).toBe(
      false,
    );
    expect(verifySignature(undefined, secret, body)).toBe(false);
    expect(verifySignature("t=1,v1=zz", secret, body)).toBe(false);
  });

  it("retries a failing receiver with doubling waits, and records the delivery without the secret or the query", async () => {
    // Prepare
    const { store, sent, waits, notifier } = await notifierAnswering(
      503,
      new Error("ECONNRESET"),
      204,
    );
    // Act
    const delivery = await notifier.quiesced(event);
    // Assess
    expect(delivery).toEqual({ batchId: "b-1", outcome: "delivered", attempts: 3, status: 204 });
    expect(waits).toEqual([1000, 2000]);
    for (const { body, headers } of sent)
      expect(verifySignature(headers["stepbatch-signature"], secret, body)).toBe(true);
    const audit = JSON.stringify((await store.loadBatch("b-1"))?.audit ?? store.audit.get("b-1"));
    expect(audit).toContain("webhook_delivered");
    expect(audit).toContain("https://hooks.example.com/in");
    expect(audit).not.toContain("token=abc");
    expect(audit).not.toContain(secret);
  });

  it("gives up at once on an answer that will not change, and after five attempts otherwise", async () => {
    // Prepare
    const refused = await notifierAnswering(410);
    const down = await notifierAnswering(500, 500, 500, 500, 500, 500);
    // Act
    const gone = await refused.notifier.quiesced(event);
    const failing = await down.notifier.quiesced(event);
    // Assess
    expect(gone).toMatchObject({ outcome: "failed", attempts: 1, status: 410 });
    expect(failing).toMatchObject({ outcome: "failed", attempts: 5, status: 500 });
    expect(down.waits).toEqual([1000, 2000, 4000, 8000]);
    expect(describeUrl("not a url")).toBe("(not a URL)");
  });
});
