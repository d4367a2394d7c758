import type { WebhookPoster } from "../../core/webhook.ts";

/** Posts with the runtime's fetch, giving up on a receiver that has not answered in `timeoutMs`. */
export class FetchWebhookPoster implements WebhookPoster {
  constructor(private readonly timeoutMs = 10_000) {}

  async post(url: string, body: string, headers: Record<string, string>): Promise<number> {
    const response = await fetch(url, {
      method: "POST",
      body,
      headers,
      redirect: "manual",
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    await response.body?.cancel();
    return response.status;
  }
}
