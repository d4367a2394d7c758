import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { PhaseWork } from "../domain/phase-runner";
import type { PageResult } from "../domain/results";

export const DEFAULT_PAGES = 5;
export const DEFAULT_WORK_MS = 200;

/** Raised by the demo workload when `input.failIn` names the running phase. */
export class DemoFailureError extends Error {
  override readonly name = "DemoFailure";
}

/** A score from 0 to 100 that depends only on the job, the phase and the page: reruns agree. */
export function pageScore(jobName: string, phase: string, page: number): number {
  const digest = createHash("sha256").update(`${jobName}|${phase}|${page}`).digest();
  return Math.round((digest.readUInt32BE(0) / 0xffffffff) * 10000) / 100;
}

/**
 * The deterministic demo workload: `pages` pages processed one after another over `workMs`, the
 * AbortSignal checked between pages (the safe points). No network.
 */
export const demoWork: PhaseWork = async ({ jobName, phase, input, signal }) => {
  const pages = input.pages ?? DEFAULT_PAGES;
  const workMs = input.workMs ?? DEFAULT_WORK_MS;
  const perPageMs = workMs / pages;
  const done: PageResult[] = [];
  if (input.failIn === phase) {
    throw new DemoFailureError(`demo failure requested in ${phase} (input.failIn)`);
  }
  for (let page = 1; page <= pages; page++) {
    if (signal.aborted) return { pages: done, completed: false };
    try {
      await sleep(perPageMs, undefined, { signal });
    } catch {
      return { pages: done, completed: false }; // aborted mid-page: that page is not counted
    }
    done.push({ page, score: pageScore(jobName, phase, page) });
  }
  return { pages: done, completed: true };
};
