import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifySignature } from "../../functions/core/webhook.ts";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import {
  type Api,
  client,
  type E2ETarget,
  job,
  waitFor,
  waitForBatchEnd,
  waitForQuiesce,
  waitForRunning,
} from "../helpers/e2e.ts";

/** A webhook receiver on 127.0.0.1: keeps what it is sent; answers `failFirst` 503s first. */
function receiver(failFirst = 0) {
  const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  let refused = 0;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (refused < failFirst) {
        refused += 1;
        response.writeHead(503).end();
        return;
      }
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      response.writeHead(204).end();
    });
  });
  return {
    received,
    refused: () => refused,
    listen: () =>
      new Promise<string>((resolve) =>
        server.listen(0, "127.0.0.1", () =>
          resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/stepbatch`),
        ),
      ),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// The event and the webhook are delivered by the embedded local stack, to a receiver on this
// machine: these tests always run it.
let local: LocalStack;
let api: Api;
beforeAll(async () => {
  local = await startLocalStack({ port: 0 });
  api = client({ apiUrl: local.apiUrl, token: local.token } as E2ETarget);
}, 60_000);
afterAll(async () => local?.stop());

const SECRET = "whsec-0123456789abcdef";

const quiescedEvents = (batchId: string) =>
  local.statusEvents.published.filter(
    (event) =>
      event["detail-type"] === "Batch Quiesced" &&
      (event.detail as { batchId?: string }).batchId === batchId,
  );

describe("a cancelled batch quiesces", () => {
  it("records quiescedAt once its last phase stops, publishes Batch Quiesced and posts it signed to the webhook", async () => {
    // Prepare: two jobs mid-Ingest (4 s each), two more queued, and a receiver.
    const hook = receiver();
    const url = await hook.listen();
    const submitted = await api.submit({
      name: "quiesce",
      concurrency: 2,
      webhook: { url, secret: SECRET },
      jobs: [
        job("a", { pages: 8, workMs: 4000 }),
        job("b", { pages: 8, workMs: 4000 }),
        job("c", { pages: 2, workMs: 100 }),
        job("d", { pages: 2, workMs: 100 }),
      ],
    });
    expect(submitted.status).toBe(202);
    const { batchId } = submitted.body;
    await waitForRunning(api, batchId, 2);
    // Act
    const cancel = await api.cancel(batchId, { reason: "wrong batch" });
    await waitForBatchEnd(api, batchId);
    const batch = await waitForQuiesce(api, batchId);
    await waitFor(async () => (hook.received.length > 0 ? true : undefined), "the webhook");
    await hook.close();
    // Assess: the batch.
    expect(batch.status).toBe("cancelled");
    expect(Date.parse(batch.quiescedAt)).toBeGreaterThanOrEqual(
      Date.parse(batch.cancel.requestedAt),
    );
    expect(batch.webhookUrl).toBe(url);
    expect(JSON.stringify(batch)).not.toContain(SECRET);
    // The event, once.
    const events = quiescedEvents(batchId);
    expect(events).toHaveLength(1);
    const event = events[0] as { source: string; detail: any };
    expect(event.source).toBe("stepbatch");
    expect(event.detail).toMatchObject({
      batchId,
      status: "cancelled",
      cancellationId: cancel.body.cancellationId,
      reason: "wrong batch",
      quiescedAt: batch.quiescedAt,
      saved: {
        // a and b stopped in Ingest (2 phases each not run), c and d never started (3 each)
        phaseRunsNotRun: 10,
        pricedWith: { date: "2026-11-23", region: "us-east-1" },
      },
    });
    expect(event.detail.secondsToQuiesce).toBeGreaterThanOrEqual(0);
    expect(event.detail.secondsToQuiesce).toBeLessThan(10);
    for (const straggler of event.detail.stragglers) expect(["a", "b"]).toContain(straggler.name);
    // The webhook: signed with the secret over exactly the body it got.
    expect(hook.received).toHaveLength(1);
    const delivery = hook.received[0] as (typeof hook.received)[number];
    const signature = delivery.headers["stepbatch-signature"] as string;
    expect(verifySignature(signature, SECRET, delivery.body)).toBe(true);
    expect(verifySignature(signature, "another-secret-of-16", delivery.body)).toBe(false);
    expect(verifySignature(signature, SECRET, `${delivery.body} `)).toBe(false);
    expect(JSON.parse(delivery.body)).toMatchObject({ type: "batch.quiesced", batchId });
    // Audited, with where it went and never the secret.
    const audit = (await api.batch(batchId)).body.audit;
    expect(audit.map((entry: any) => entry.action)).toEqual(
      expect.arrayContaining(["quiesced", "webhook_delivered"]),
    );
    expect(JSON.stringify(audit)).not.toContain(SECRET);
  });

  it("retries a receiver that fails at first, with backoff, until it takes the notice", async () => {
    // Prepare: a receiver that answers 503 twice.
    const hook = receiver(2);
    const url = await hook.listen();
    const submitted = await api.submit({
      webhook: { url, secret: SECRET },
      jobs: [job("only", { pages: 4, workMs: 2000 })],
    });
    const { batchId } = submitted.body;
    await waitForRunning(api, batchId, 1);
    // Act
    await api.cancel(batchId, { reason: "stop" });
    await waitFor(async () => (hook.received.length > 0 ? true : undefined), "the webhook", 30_000);
    await hook.close();
    // Assess
    expect(hook.refused()).toBe(2);
    const delivered = (await api.batch(batchId)).body.audit.find(
      (entry: any) => entry.action === "webhook_delivered",
    );
    expect(delivered.detail).toMatchObject({ attempts: 3, status: 204, url });
  });

  it("quiesces a drained batch once its running job has finished all its phases", async () => {
    // Prepare
    const submitted = await api.submit({
      concurrency: 1,
      jobs: [job("long", { pages: 3, workMs: 1500 }), job("queued")],
    });
    const { batchId } = submitted.body;
    await waitForRunning(api, batchId, 1);
    // Act
    await api.cancel(batchId, { mode: "drain", reason: "enough" });
    const quiesced = await waitForQuiesce(api, batchId);
    // Assess: it quiesced as it ended, with nothing left running.
    expect(quiesced.status).toBe("cancelled");
    expect(quiesced.stragglers).toEqual([]);
    expect(quiesced.progress).toMatchObject({ succeeded: 1, cancelled: 1, running: 0 });
    expect(quiescedEvents(batchId)).toHaveLength(1);
  });

  it("refuses a webhook that is not https, or whose secret is short, naming the problem", async () => {
    // Act
    const plain = await api.submit({
      jobs: ["x"],
      webhook: { url: "http://example.com/hook", secret: SECRET },
    });
    const short = await api.submit({
      jobs: ["x"],
      webhook: { url: "https://example.com/hook", secret: "short" },
    });
    // Assess
    expect(plain.status).toBe(400);
    expect(plain.body.error.message).toMatch(/webhook.url must be an https:\/\/ URL/);
    expect(short.status).toBe(400);
    expect(short.body.error.message).toMatch(/webhook.secret must be at least 16 characters/);
  });
});
