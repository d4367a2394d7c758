/**
 * The webhook given at submit: the "Batch Quiesced" notice is posted to it, signed with its secret
 * (HMAC-SHA256 over `<timestamp>.<body>`, as Stripe and others sign theirs), and retried with
 * backoff. Neither the secret nor the URL's query (where tokens hide) is ever recorded.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { BatchStore } from "./ports.ts";
import type { BatchQuiesced } from "./quiesce.ts";

/** The header that carries the signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const SIGNATURE_HEADER = "stepbatch-signature";

/** The signature of a body sent at `timestamp` (unix seconds). */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

/**
 * Whether a received body is the one stepbatch signed with `secret`, sent within
 * `toleranceSeconds` of `now` (an old signature replayed is refused). For your receiver.
 */
export function verifySignature(
  header: string | undefined,
  secret: string,
  body: string,
  options: { toleranceSeconds?: number; now?: Date } = {},
): boolean {
  const parts = new Map(
    (header ?? "").split(",").map((part) => part.split("=", 2) as [string, string | undefined]),
  );
  const timestamp = Number(parts.get("t"));
  const given = parts.get("v1") ?? "";
  if (!Number.isInteger(timestamp) || !/^[0-9a-f]{64}$/.test(given)) return false;
  const now = (options.now ?? new Date()).getTime() / 1000;
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? 300)) return false;
  const expected = signatureOf(secret, timestamp, body).split("v1=")[1] ?? "";
  return timingSafeEqual(Buffer.from(expected, "hex"), Buffer.from(given, "hex"));
}

/** Posts a body to a URL: the HTTP status, or a thrown error when nothing answered. */
export interface WebhookPoster {
  post(url: string, body: string, headers: Record<string, string>): Promise<number>;
}

export interface WebhookDelivery {
  readonly batchId: string;
  readonly outcome: "delivered" | "failed" | "no_webhook";
  readonly attempts: number;
  readonly status?: number;
}

export interface WebhookNotifierOptions {
  /** @default 5 */
  readonly attempts?: number;
  /** The wait before the second attempt; it doubles after each. @default 1000 */
  readonly firstRetryMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => Date;
}

/** Where a webhook goes, for the audit trail: scheme, host and path, never the query. */
export const describeUrl = (url: string): string => {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(not a URL)";
  }
};

/** Answers worth another attempt: the receiver may take it later. Others are final. */
const retryable = (status: number) => status >= 500 || status === 408 || status === 429;

export class WebhookNotifier {
  private readonly attempts: number;
  private readonly firstRetryMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => Date;

  constructor(
    private readonly store: BatchStore,
    private readonly poster: WebhookPoster,
    options: WebhookNotifierOptions = {},
  ) {
    this.attempts = options.attempts ?? 5;
    this.firstRetryMs = options.firstRetryMs ?? 1000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? (() => new Date());
  }

  async quiesced(event: BatchQuiesced): Promise<WebhookDelivery> {
    const { batchId } = event;
    const webhook = await this.store.getWebhook(batchId);
    if (!webhook) return { batchId, outcome: "no_webhook", attempts: 0 };
    const body = JSON.stringify({ type: "batch.quiesced", ...event });
    let attempt = 0;
    let last: { status?: number; error?: string } = {};
    while (attempt < this.attempts) {
      attempt += 1;
      const timestamp = Math.floor(this.now().getTime() / 1000);
      try {
        const status = await this.poster.post(webhook.url, body, {
          "content-type": "application/json",
          "user-agent": "stepbatch-webhook",
          "stepbatch-event": "Batch Quiesced",
          [SIGNATURE_HEADER]: signatureOf(webhook.secret, timestamp, body),
        });
        last = { status };
        if (status >= 200 && status < 300) {
          await this.audit(batchId, "webhook_delivered", webhook.url, {
            attempts: attempt,
            status,
          });
          return { batchId, outcome: "delivered", attempts: attempt, status };
        }
        if (!retryable(status)) break;
      } catch (error) {
        last = { error: (error as Error).message };
      }
      if (attempt < this.attempts) await this.sleep(this.firstRetryMs * 2 ** (attempt - 1));
    }
    await this.audit(batchId, "webhook_failed", webhook.url, { attempts: attempt, ...last });
    return {
      batchId,
      outcome: "failed",
      attempts: attempt,
      ...(last.status ? { status: last.status } : {}),
    };
  }

  private audit(batchId: string, action: string, url: string, detail: Record<string, unknown>) {
    return this.store.appendAudit(batchId, {
      at: this.now().toISOString(),
      action,
      by: "stepbatch",
      detail: { url: describeUrl(url), ...detail },
    });
  }
}
