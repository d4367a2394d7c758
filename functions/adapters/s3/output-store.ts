import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { mapLimit } from "../../core/concurrency.ts";
import { ERROR_NAMES } from "../../core/errors.ts";
import { outputKeys } from "../../core/output-keys.ts";
import type { OutputStore } from "../../core/ports.ts";
import type { PhaseOutputDocument, SavedCheckpoint } from "../../core/results.ts";

/** The output store in an S3 bucket, with the layout of output-keys.ts. */
export class S3OutputStore implements OutputStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly readConcurrency = 16,
  ) {}

  uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  downloadUrl(key: string, expiresInSeconds: number): Promise<string> {
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: expiresInSeconds,
    });
  }

  async putOutput(output: PhaseOutputDocument): Promise<string> {
    const key = outputKeys.output(output.batchId, output.jobId, output.phase);
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
    const read = await this.getJson<PhaseOutputDocument>(outputKeys.output(batchId, jobId, phase));
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
        name: ERROR_NAMES.outputUnreadable,
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
    await this.putJson(outputKeys.checkpoint(batchId, jobId, phase), checkpoint);
  }

  async getCheckpoint(
    batchId: string,
    jobId: string,
    phase: string,
  ): Promise<SavedCheckpoint | undefined> {
    const read = await this.getJson<SavedCheckpoint>(outputKeys.checkpoint(batchId, jobId, phase));
    return read.kind === "ok" ? read.value : undefined;
  }

  async putItems(
    batchId: string,
    jobId: string,
    phase: string,
    chunk: number,
    items: readonly unknown[],
  ): Promise<void> {
    await this.putJson(outputKeys.items(batchId, jobId, phase, chunk), items);
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
      const read = await this.getJson<unknown[]>(outputKeys.items(batchId, jobId, phase, chunk));
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
