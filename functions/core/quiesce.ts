/**
 * "Quiesced": a cancelled batch has ended, and the last of its phases has stopped too, so nothing
 * of it runs any more. A batch usually ends while some phases are still stopping (they stop at
 * their next safe point, or finish a final commit, or ignore their signal): those jobs are its
 * stragglers. The batch records them as it ends; each leaves as its phase ends, and the one that
 * leaves last records `quiescedAt` and publishes the "Batch Quiesced" event (which also goes to
 * the batch's webhook). Every step is a compare-and-set, so the event is published once.
 */
import {
  type BatchRecord,
  type CancelSavings,
  hasRunningPhase,
  type JobRecord,
  runOf,
} from "./model.ts";
import type { BatchEvents, BatchStore } from "./ports.ts";
import { PRICES } from "./prices.ts";
import { batchTransitions } from "./transitions.ts";

/** The event's detail-type, and its source. */
export const QUIESCED_DETAIL_TYPE = "Batch Quiesced";
export const EVENT_SOURCE = "stepbatch";

/** A phase of the pipeline, as the savings are priced: its Lambda's memory. */
export interface PricedPhase {
  readonly name: string;
  readonly memoryMb: number;
}

export interface Straggler {
  readonly jobId: string;
  readonly name: string;
  /** The phase that was still running when the batch ended. */
  readonly phase: string | null;
  /** How that phase ended: aborted at a safe point, succeeded (a final commit), failed. */
  readonly phaseStatus: string | null;
  readonly stoppedAt: string | null;
}

/** The detail of a "Batch Quiesced" event, and the body of its webhook. */
export interface BatchQuiesced {
  readonly batchId: string;
  readonly name: string;
  readonly status: BatchRecord["status"];
  readonly run: number;
  readonly cancellationId: string | null;
  readonly mode: string;
  readonly cancelledBy: string;
  readonly reason: string;
  readonly cancelledAt: string;
  readonly endedAt: string | null;
  readonly quiescedAt: string;
  /** From the cancel to the last phase stopping. */
  readonly secondsToQuiesce: number;
  readonly stragglers: readonly Straggler[];
  readonly saved: CancelSavings;
}

/** Whether a batch's end is one that quiesces: it was cancelled as a whole (API or console). */
const quiescesOnEnd = (batch: BatchRecord) =>
  batch.cancel?.scope === "batch" && batch.status === "cancelled" && !batch.quiescedAt;

export class Quiescence {
  constructor(
    private readonly store: BatchStore,
    private readonly events: BatchEvents,
    private readonly phases: readonly PricedPhase[],
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * A cancelled batch has ended (the reconciler and finalize call this with every job, which they
   * read anyway): its stragglers are recorded, and if there are none it quiesces now.
   */
  async batchEnded(batch: BatchRecord, jobs: readonly JobRecord[]): Promise<void> {
    if (!quiescesOnEnd(batch)) return;
    const stragglers = jobs.filter(hasRunningPhase).map((job) => job.jobId);
    const saved = savingsOf(jobs, this.phases);
    if (!(await this.store.recordStragglers(batch.batchId, stragglers, saved))) return;
    if (stragglers.length === 0) return this.quiesce(batch.batchId);
    // A straggler whose phase ended between the read and the write above found nothing to leave.
    for (const jobId of stragglers) {
      const job = await this.store.getJob(batch.batchId, jobId);
      if (!job || !hasRunningPhase(job)) await this.settle(batch.batchId, jobId);
    }
  }

  /** A phase of a job has ended (the phase runner calls this): if it was a straggler, it leaves. */
  async phaseEnded(batchId: string, jobId: string): Promise<void> {
    const batch = await this.store.getBatch(batchId);
    if (batch?.stillStopping?.includes(jobId)) await this.settle(batchId, jobId);
  }

  private async settle(batchId: string, jobId: string): Promise<void> {
    if ((await this.store.settleStraggler(batchId, jobId)) === 0) await this.quiesce(batchId);
  }

  private async quiesce(batchId: string): Promise<void> {
    const at = this.now().toISOString();
    const cas = await this.store.transitionBatch(batchId, batchTransitions.quiesce(at));
    if (!cas.won) return;
    const batch = cas.record;
    const cancel = batch.cancel;
    if (!cancel) return;
    const stragglers: Straggler[] = [];
    for (const jobId of batch.stragglers ?? []) {
      const job = await this.store.getJob(batchId, jobId);
      if (!job) continue;
      const phase = job.wasInPhase ?? job.phase ?? null;
      const record = phase ? job.phases[phase] : undefined;
      stragglers.push({
        jobId,
        name: job.name,
        phase,
        phaseStatus: record?.status ?? null,
        stoppedAt: record?.endedAt ?? null,
      });
    }
    const event: BatchQuiesced = {
      batchId,
      name: batch.name,
      status: batch.status,
      run: runOf(batch),
      cancellationId: cancel.cancellationId ?? null,
      mode: cancel.mode ?? "now",
      cancelledBy: cancel.by,
      reason: cancel.reason,
      cancelledAt: cancel.requestedAt,
      endedAt: batch.endedAt ?? null,
      quiescedAt: at,
      secondsToQuiesce: Math.round((Date.parse(at) - Date.parse(cancel.requestedAt)) / 100) / 10,
      stragglers,
      saved: batch.cancelSaved ?? savingsOf([], this.phases),
    };
    let published = true;
    try {
      await this.events.publishQuiesced(event);
    } catch {
      published = false; // recorded below; the batch's quiescedAt stands either way
    }
    await this.store.appendAudit(batchId, {
      at,
      action: "quiesced",
      by: "stepbatch",
      detail: {
        secondsToQuiesce: event.secondsToQuiesce,
        stragglers: stragglers.length,
        eventPublished: published,
      },
    });
  }
}

/**
 * What a cancel saved: the phase runs its cancelled jobs did not make, and what they would have
 * cost. A phase's length is the mean of its runs that succeeded in this batch (of any phase's,
 * where none of it did; unknown where nothing succeeded). Priced with the dated table the bench
 * uses: Lambda compute (ARM, the phase's memory), Lambda requests, and two state transitions a
 * phase (its task and the step after it).
 */
export function savingsOf(
  jobs: readonly JobRecord[],
  phases: readonly PricedPhase[],
): CancelSavings {
  const names = phases.map((phase) => phase.name);
  const seconds = new Map<string, number[]>();
  for (const job of jobs)
    for (const [name, record] of Object.entries(job.phases))
      if (record.status === "succeeded" && record.endedAt) {
        const list = seconds.get(name) ?? [];
        list.push((Date.parse(record.endedAt) - Date.parse(record.startedAt)) / 1000);
        seconds.set(name, list);
      }
  const all = [...seconds.values()].flat();
  const mean = (list: readonly number[]) =>
    list.length > 0 ? list.reduce((sum, s) => sum + s, 0) / list.length : undefined;
  const anyPhase = mean(all);

  let runs = 0;
  let phaseSeconds = 0;
  let gbSeconds = 0;
  let known = true;
  for (const job of jobs) {
    if (job.status !== "cancelled") continue;
    // Phases after the one it stopped in (or after the last it ran; all, if it never started).
    const reached = job.wasInPhase ?? lastRan(job, names);
    const from = reached ? names.indexOf(reached) + 1 : 0;
    for (const phase of phases.slice(from)) {
      runs += 1;
      const length = mean(seconds.get(phase.name) ?? []) ?? anyPhase;
      if (length === undefined) {
        known = false;
        continue;
      }
      phaseSeconds += length;
      gbSeconds += length * (phase.memoryMb / 1024);
    }
  }
  const dollars =
    gbSeconds * PRICES.lambdaArmPerGbSecond +
    runs * PRICES.lambdaPerRequest +
    runs * 2 * PRICES.stepFunctionsStandardPerTransition;
  return {
    phaseRunsNotRun: runs,
    phaseSecondsNotRun: known ? Math.round(phaseSeconds * 10) / 10 : null,
    dollars: known ? Math.round(dollars * 1e6) / 1e6 : null,
    pricedWith: { date: PRICES.date, region: PRICES.region },
  };
}

function lastRan(job: JobRecord, order: readonly string[]): string | undefined {
  return order.filter((name) => job.phases[name]).at(-1);
}
