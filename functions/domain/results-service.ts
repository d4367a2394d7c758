import type { BatchStore } from "./batch-store";
import { BatchNotFoundError } from "./errors";
import { type BatchRecord, isBatchTerminal } from "./model";
import type { ResultStore } from "./result-store";
import { type ResultsSummary, summarizeResults } from "./results";

export interface ConsolidatedLocation {
  readonly bucket: string;
  readonly key: string;
  readonly uri: string;
}

/** Reads a batch's saved phase outputs and writes manifests and consolidated copies. */
export class ResultsService {
  constructor(
    private readonly store: BatchStore,
    private readonly results: ResultStore,
  ) {}

  async collect(batchId: string): Promise<ResultsSummary> {
    return summarizeResults(await this.results.readOutputs(batchId));
  }

  /** GET /batches/{id}/results: the results so far, partial or final. */
  async resultsOf(batchId: string) {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    const summary = await this.collect(batchId);
    return { batchId, status: batch.status, final: isBatchTerminal(batch.status), ...summary };
  }

  manifestUri(batchId: string): string {
    return `s3://${this.results.bucket}/manifests/${batchId}.json`;
  }

  /** Index of every output object, for batches too large to return inline comfortably. */
  async writeManifest(batch: BatchRecord, summary: ResultsSummary): Promise<string> {
    const key = `manifests/${batch.batchId}.json`;
    const objects = await this.results.listOutputKeys(batch.batchId);
    await this.results.putJson(key, {
      batchId: batch.batchId,
      status: batch.status,
      writtenAt: new Date().toISOString(),
      jobsProcessed: summary.jobsProcessed,
      pagesProcessed: summary.partialResults.pagesProcessed,
      averageScore: summary.partialResults.averageScore,
      objects,
    });
    return `s3://${this.results.bucket}/${key}`;
  }

  /** Writes the results collected so far to permanent storage (outside the expiring prefix). */
  async consolidate(
    batchId: string,
  ): Promise<
    ConsolidatedLocation & ResultsSummary & { batchId: string; status: BatchRecord["status"] }
  > {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    const outputs = await this.results.readOutputs(batchId);
    const summary = summarizeResults(outputs);
    const key = `consolidated/${batchId}/results.json`;
    await this.results.putJson(key, {
      batch,
      consolidatedAt: new Date().toISOString(),
      ...summary,
      outputs,
    });
    return {
      batchId,
      status: batch.status,
      bucket: this.results.bucket,
      key,
      uri: `s3://${this.results.bucket}/${key}`,
      ...summary,
    };
  }
}
