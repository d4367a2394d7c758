import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { mapLimit } from "../../core/concurrency.ts";
import type { PhaseOutputDocument, SavedCheckpoint } from "../../core/results.ts";

/**
 * S3 layout. Every key is derived from ids, so nothing is ever listed:
 * - `results/<batchId>/<jobId>/<phase>/output.json`: what the phase returned, with its status
 * - `results/<batchId>/<jobId>/<phase>/checkpoint.json`: its last checkpoint
 * - `results/<batchId>/<jobId>/<phase>/items/<n>.json`: the n-th chunk of items it emitted
 * - `manifests/<batchId>.json`: the index of a batch's objects, written when it ends
 * - `consolidated/<batchId>/results.json`: the permanent copy written by consolidate and finalize
 * `results/` is temporary (a lifecycle rule expires it); the other prefixes are kept.
 */
export class ResultStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly readConcurrency = 16,
  ) {}

  static phasePrefix(batchId: string, jobId: string, phase: string): string {
    return `results/${batchId}/${jobId}/${phase}/`;
  }

  static outputKey(batchId: string, jobId: string, phase: string): string {
    return `${ResultStore.phasePrefix(batchId, jobId, phase)}output.json`;
  }

  static checkpointKey(batchId: string, jobId: string, phase: string): string {
    return `${ResultStore.phasePrefix(batchId, jobId, phase)}checkpoint.json`;
  }

  static itemsKey(batchId: string, jobId: string, phase: string, chunk: number): string {
    return `${ResultStore.phasePrefix(batchId, jobId, phase)}items/${String(chunk).padStart(6, "0")}.json`;
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** A URL anyone holding it can GET the object with, for `expiresInSeconds`: a download link. */
  downloadUrl(key: string, expiresInSeconds = 900): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: expiresInSeconds,
    });
  }

  async putOutput(output: PhaseOutputDocument): Promise<string> {
    const key = ResultStore.outputKey(output.batchId, output.jobId, output.phase);
    await this.putJson(key, output);
    return key;
  }

  /** The outputs of these phases of a job; a phase with no output is left out. */
  async readOutputs(
    batchId: string,
    jobId: string,
    phases: readonly string[],
  ): Promise<PhaseOutputDocument[]> {
    const found = await mapLimit(phases, this.readConcurrency, (phase) =>
      this.readOutput(batchId, jobId, phase),
    );
    return found.filter((output): output is PhaseOutputDocument => output !== undefined);
  }

  /**
   * One phase output. An object that cannot be read as one (cut short by a crash, say) is reported
   * as that phase's error, so one bad object never fails the results of a whole batch.
   */
  async readOutput(
    batchId: string,
    jobId: string,
    phase: string,
  ): Promise<PhaseOutputDocument | undefined> {
    const read = await this.getJson<PhaseOutputDocument>(
      ResultStore.outputKey(batchId, jobId, phase),
    );
    if (read.kind === "missing") return undefined;
    if (
      read.kind === "ok" &&
      read.value &&
      typeof read.value === "object" &&
      "status" in read.value
    )
      return read.value;
    return {
      batchId,
      jobId,
      jobName: jobId,
      phase,
      status: "error",
      attempt: 0,
      startedAt: "",
      endedAt: "",
      output: null,
      error: {
        name: "OutputUnreadable",
        message: `the saved output of ${phase} is unreadable: ${read.kind === "ok" ? "it does not hold a phase output" : "it is not valid JSON"}`,
      },
    };
  }

  async putCheckpoint(
    batchId: string,
    jobId: string,
    phase: string,
    checkpoint: SavedCheckpoint,
  ): Promise<void> {
    await this.putJson(ResultStore.checkpointKey(batchId, jobId, phase), checkpoint);
  }

  async getCheckpoint(
    batchId: string,
    jobId: string,
    phase: string,
  ): Promise<SavedCheckpoint | undefined> {
    const read = await this.getJson<SavedCheckpoint>(
      ResultStore.checkpointKey(batchId, jobId, phase),
    );
    return read.kind === "ok" ? read.value : undefined;
  }

  async putItems(
    batchId: string,
    jobId: string,
    phase: string,
    chunk: number,
    items: readonly unknown[],
  ): Promise<void> {
    await this.putJson(ResultStore.itemsKey(batchId, jobId, phase, chunk), items);
  }

  /**
   * Items of a job's phase, from item `offset` on, at most `limit`, reading chunks in order until
   * enough are read. A chunk that is missing (its write was cut short) is skipped.
   */
  async readItems(
    batchId: string,
    jobId: string,
    phase: string,
    chunks: number,
    options: { offset: number; limit: number },
  ): Promise<{ items: unknown[]; next?: number }> {
    const items: unknown[] = [];
    if (options.limit === 0) return { items }; // none asked for: no chunk read, no next
    let index = 0;
    for (let chunk = 1; chunk <= chunks; chunk++) {
      const read = await this.getJson<unknown[]>(
        ResultStore.itemsKey(batchId, jobId, phase, chunk),
      );
      for (const item of read.kind === "ok" && Array.isArray(read.value) ? read.value : []) {
        if (index >= options.offset) {
          if (items.length === options.limit) return { items, next: index };
          items.push(item);
        }
        index++;
      }
    }
    return { items };
  }

  async putJson(key: string, body: unknown): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: JSON.stringify(body),
        ContentType: "application/json",
      }),
    );
  }

  private async getJson<T>(
    key: string,
  ): Promise<{ kind: "ok"; value: T } | { kind: "missing" } | { kind: "unreadable" }> {
    let text: string;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      text = (await out.Body?.transformToString("utf8")) ?? "";
    } catch (error) {
      if ((error as Error).name === "NoSuchKey") return { kind: "missing" };
      throw error;
    }
    try {
      return { kind: "ok", value: JSON.parse(text) as T };
    } catch {
      return { kind: "unreadable" };
    }
  }
}
