import type { BatchStore } from "./batch-store";
import { BatchNotFoundError } from "./errors";
import { type BatchRecord, isBatchTerminal } from "./model";
import { ResultStore } from "./result-store";
import { type PhaseOutput, type ResultsSummary, summarizeResults } from "./results";

export interface ConsolidatedLocation {
  readonly bucket: string;
  readonly key: string;
  readonly uri: string;
}

/** Every saved phase output of a batch, read once, with its summary. */
export interface GatheredResults {
  readonly outputs: readonly PhaseOutput[];
  readonly summary: ResultsSummary;
}

/** Reads a batch's saved phase outputs and writes manifests and consolidated copies. */
export class ResultsService {
  constructor(
    private readonly store: BatchStore,
    private readonly results: ResultStore,
  ) {}

  /** Reads every output saved for a batch; pass the result on so it is read only once. */
  async gather(batchId: string): Promise<GatheredResults> {
    const outputs = await this.results.readOutputs(batchId);
    return { outputs, summary: summarizeResults(outputs) };
  }

  async collect(batchId: string): Promise<ResultsSummary> {
    return (await this.gather(batchId)).summary;
  }

  /** GET /batches/{id}/results: the results so far, partial or final. */
  async resultsOf(batchId: string) {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    const summary = await this.collect(batchId);
    return { batchId, status: batch.status, final: isBatchTerminal(batch.status), ...summary };
  }

  manifestUri(batchId: string): string {
    return `s3://${this.results.bucket}/${manifestKey(batchId)}`;
  }

  /** Index of every output object, for batches too large to return inline comfortably. */
  async writeManifest(batch: BatchRecord, gathered: GatheredResults): Promise<string> {
    const { summary } = gathered;
    await this.results.putJson(manifestKey(batch.batchId), {
      batchId: batch.batchId,
      status: batch.status,
      writtenAt: new Date().toISOString(),
      jobsProcessed: summary.jobsProcessed,
      pagesProcessed: summary.partialResults.pagesProcessed,
      averageScore: summary.partialResults.averageScore,
      objects: gathered.outputs.map((o) => ResultStore.phaseOutputKey(o.batchId, o.jobId, o.phase)),
    });
    return this.manifestUri(batch.batchId);
  }

  /** Writes the results collected so far to permanent storage (outside the expiring prefix). */
  async consolidate(
    batchId: string,
  ): Promise<
    ConsolidatedLocation & ResultsSummary & { batchId: string; status: BatchRecord["status"] }
  > {
    const batch = await this.store.getBatch(batchId);
    if (!batch) throw new BatchNotFoundError(batchId);
    return this.writeConsolidated(batch, await this.gather(batchId));
  }

  /** Writes what `gather` read to `consolidated/<batchId>/results.json` and says where. */
  async writeConsolidated(batch: BatchRecord, gathered: GatheredResults) {
    const { batchId } = batch;
    const key = `consolidated/${batchId}/results.json`;
    await this.results.putJson(key, {
      batch,
      consolidatedAt: new Date().toISOString(),
      ...gathered.summary,
      outputs: gathered.outputs,
    });
    return {
      batchId,
      status: batch.status,
      bucket: this.results.bucket,
      key,
      uri: `s3://${this.results.bucket}/${key}`,
      ...gathered.summary,
    };
  }
}

const manifestKey = (batchId: string) => `manifests/${batchId}.json`;
