import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import type { BatchEvents } from "../../core/ports.ts";
import { type BatchQuiesced, EVENT_SOURCE, QUIESCED_DETAIL_TYPE } from "../../core/quiesce.ts";

/** Publishes a batch's events on an EventBridge bus (source `stepbatch`). */
export class EventBridgeBatchEvents implements BatchEvents {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publishQuiesced(event: BatchQuiesced): Promise<void> {
    const out = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.busName,
            Source: EVENT_SOURCE,
            DetailType: QUIESCED_DETAIL_TYPE,
            Resources: [],
            Detail: JSON.stringify(event),
          },
        ],
      }),
    );
    // PutEvents answers 200 with per-entry failures: one entry, so any failure is this event's.
    const failed = out.Entries?.[0];
    if ((out.FailedEntryCount ?? 0) > 0)
      throw new Error(
        `EventBridge did not accept the "${QUIESCED_DETAIL_TYPE}" event of ${event.batchId}: ${failed?.ErrorCode ?? "unknown"} ${failed?.ErrorMessage ?? ""}`.trim(),
      );
  }
}
