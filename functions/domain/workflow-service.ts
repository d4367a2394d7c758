import type { BatchStore } from "./batch-store";
import { BatchNotFoundError } from "./errors";
import {
  type BatchStatus,
  countJobs,
  finalBatchStatus,
  isJobTerminal,
  type JobCounts,
} from "./model";
import type { ResultsService } from "./results-service";

export interface FinalizeResponse {
  readonly batchId: string;
  readonly status: BatchStatus;
  readonly counts: JobCounts;
  readonly manifest: string;
  /** Who set the final status: this finalize, or a cancel that won the race. */
  readonly decidedBy: "finalize" | "earlier";
}

/** The workflow's own steps besides phases: recording a job's failure and finalizing a batch. */
export class WorkflowService {
  constructor(
    private readonly store: BatchStore,
    private readonly results: ResultsService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Called by the state machine's Catch after a phase's retries ran out. */
  async recordJobFailure(batchId: string, jobId: string, error: string, cause: string) {
    const message = describeCause(cause) ?? error;
    const cas = await this.store.failJob(
      batchId,
      jobId,
      { name: error, message },
      this.now().toISOString(),
    );
    return { jobId, status: cas.won ? "failed" : (cas.current?.status ?? "unknown") };
  }

  /**
   * After the Map: every job has ended. Any job still not terminal (which would be a bug) is failed
   * so that no job stays running; then the batch gets its final status and results are consolidated.
   */
  async finalize(batchId: string): Promise<FinalizeResponse> {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    const at = this.now().toISOString();
    let jobs = await this.store.listJobs(batchId);
    const stuck = jobs.filter((job) => !isJobTerminal(job.status));
    for (const job of stuck) {
      await this.store.failJob(
        batchId,
        job.jobId,
        { name: "JobNotFinished", message: "the workflow ended before this job finished" },
        at,
      );
    }
    if (stuck.length > 0) jobs = await this.store.listJobs(batchId);
    const counts = countJobs(jobs);
    const status = finalBatchStatus(counts, Boolean(batch.cancel));
    const cas = await this.store.finishBatch(batchId, status, at);
    const final = cas.won ? cas.record : (cas.current ?? batch);
    const summary = await this.results.collect(batchId);
    const manifest = await this.results.writeManifest(final, summary);
    await this.results.consolidate(batchId);
    return {
      batchId,
      status: final.status,
      counts,
      manifest,
      decidedBy: cas.won ? "finalize" : "earlier",
    };
  }
}

/** Step Functions passes a Lambda error's Cause as a JSON string with errorMessage. */
function describeCause(cause: string): string | undefined {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    return typeof parsed.errorMessage === "string" ? parsed.errorMessage : cause || undefined;
  } catch {
    return cause || undefined;
  }
}
