import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { definePhase } from "../../sdk/index.ts";

/** The demo's job input: how many pages each phase processes (0: none, a job with no work), over how long; a phase to fail in. */
export const demoInput = z
  .object({
    pages: z.number().int().min(0).max(1000).default(5),
    workMs: z
      .number()
      .int()
      .min(0)
      .max(15 * 60 * 1000)
      .default(200),
    failIn: z.string().min(1).max(64).optional(),
  })
  .loose();

/** A processed page: emitted as an item. */
export interface Page {
  readonly page: number;
  readonly score: number;
}

/** What a demo phase returns: how many pages it processed and the sum of their scores. */
export interface DemoOutput {
  readonly pages: number;
  readonly scoreSum: number;
}

/** Raised when `input.failIn` names the running phase. */
export class DemoFailureError extends Error {
  override readonly name = "DemoFailure";
}

/** A score from 0 to 100 that depends only on the job, the phase and the page: reruns agree. */
export function pageScore(jobName: string, phase: string, page: number): number {
  const digest = createHash("sha256").update(`${jobName}|${phase}|${page}`).digest();
  return Math.round((digest.readUInt32BE(0) / 0xffffffff) * 10000) / 100;
}

/**
 * One demo phase: `pages` pages one after another over `workMs`, each emitted as an item and
 * checkpointed, the signal checked between pages (the safe points). No network.
 */
export const demoPhase = (name: string) =>
  definePhase<z.infer<typeof demoInput>, DemoOutput, { nextPage: number; scoreSum: number }>({
    name,
    input: demoInput,
    async run(ctx) {
      const { pages, workMs, failIn } = ctx.input;
      if (failIn === name)
        throw new DemoFailureError(`demo failure requested in ${name} (input.failIn)`);
      let page = ctx.checkpoint?.nextPage ?? 1;
      let scoreSum = ctx.checkpoint?.scoreSum ?? 0;
      for (; page <= pages; page++) {
        if (ctx.signal.aborted) break;
        try {
          await sleep(workMs / pages, undefined, { signal: ctx.signal });
        } catch {
          break; // cancelled mid-page: that page is not counted
        }
        const score = pageScore(ctx.job.name, name, page);
        await ctx.emit([{ page, score } satisfies Page]);
        scoreSum += score;
        await ctx.save({ nextPage: page + 1, scoreSum });
        ctx.progress(page, pages);
      }
      return { pages: page - 1, scoreSum: Math.round(scoreSum * 100) / 100 };
    },
  });
