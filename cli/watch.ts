import { setTimeout as sleep } from "node:timers/promises";
import { SingleBar } from "cli-progress";
import type { BatchView, StepbatchClient } from "../client/stepbatch-client.ts";
import { progressLine } from "./format.ts";

const TERMINAL = new Set(["succeeded", "completed_with_errors", "failed", "cancelled"]);

/** A batch has ended once its status is terminal and no job is still queued or running. */
export const hasEnded = (view: BatchView): boolean =>
  TERMINAL.has(view.status) && view.progress.queued + view.progress.running === 0;

export interface WatchOptions {
  readonly intervalMs: number;
  readonly json: boolean;
  readonly signal: AbortSignal;
  readonly out: NodeJS.WriteStream;
}

/**
 * Follows a batch until it ends (or the signal fires): a live progress bar on a terminal, a line
 * per change otherwise, one JSON object per change with --json. Returns the last view seen.
 */
export async function watchBatch(
  client: StepbatchClient,
  batchId: string,
  options: WatchOptions,
): Promise<BatchView> {
  const bar =
    !options.json && options.out.isTTY
      ? new SingleBar({
          format:
            "{bar} {percentage}% | {succeeded} ok, {failed} failed, {cancelled} cancelled of {total} | {current}",
          hideCursor: true,
          clearOnComplete: false,
          stream: options.out,
        })
      : undefined;
  let last: BatchView | undefined;
  let lastLine = "";
  try {
    for (;;) {
      const view = await client.getBatch(batchId);
      last = view;
      const line = progressLine(view);
      if (bar) {
        const payload = {
          succeeded: view.progress.succeeded,
          failed: view.progress.failed,
          cancelled: view.progress.cancelled,
          current: view.current.map((c) => `${c.name}:${c.phase}`).join(" ") || view.status,
        };
        if (!bar.isActive) bar.start(view.progress.total, 0, payload);
        bar.update(view.progress.total - view.progress.queued - view.progress.running, payload);
      } else if (line !== lastLine) {
        options.out.write(
          options.json
            ? `${JSON.stringify({ type: "progress", batchId, status: view.status, progress: view.progress, current: view.current })}\n`
            : `${line}\n`,
        );
      }
      lastLine = line;
      if (hasEnded(view)) return view;
      try {
        await sleep(options.intervalMs, undefined, { signal: options.signal });
      } catch {
        return view; // interrupted: the caller says so
      }
    }
  } finally {
    bar?.stop();
    void last;
  }
}
