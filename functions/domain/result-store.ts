import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { mapLimit } from "./concurrency";
import type { PhaseOutput } from "./results";

/**
 * S3 layout:
 * - `results/<batchId>/<jobId>/<phase>.json`: every phase output (temporary; lifecycle-expired)
 * - `manifests/<batchId>.json`: index of a batch's outputs, written for large or ended batches
 * - `consolidated/<batchId>/results.json`: permanent copy written by consolidate/finalize
 */
export class ResultStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    private readonly readConcurrency = 16,
  ) {}

  static phaseOutputKey(batchId: string, jobId: string, phase: string): string {
    return `results/${batchId}/${jobId}/${phase}.json`;
  }

  async putPhaseOutput(output: PhaseOutput): Promise<string> {
    const key = ResultStore.phaseOutputKey(output.batchId, output.jobId, output.phase);
    await this.putJson(key, output);
    return key;
  }

  private listOutputKeys(batchId: string): Promise<string[]> {
    return this.listKeys(`results/${batchId}/`);
  }

  private async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out: ListObjectsV2CommandOutput = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of out.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** Reads every phase output saved for a batch. */
  async readOutputs(batchId: string): Promise<PhaseOutput[]> {
    const keys = await this.listOutputKeys(batchId);
    return mapLimit(keys, this.readConcurrency, (key) => this.readOutput(key));
  }

  /** Reads the outputs saved for one job (at most one object per phase). */
  async readJobOutputs(batchId: string, jobId: string): Promise<PhaseOutput[]> {
    const keys = await this.listKeys(`results/${batchId}/${jobId}/`);
    return mapLimit(keys, this.readConcurrency, (key) => this.readOutput(key));
  }

  /**
   * One phase output. An object that cannot be read as one (cut short by a crash, say) is reported
   * as that phase's error, so one bad object never fails the results of the whole batch.
   */
  private async readOutput(key: string): Promise<PhaseOutput> {
    try {
      const output = await this.getJson<PhaseOutput>(key);
      if (output && typeof output === "object" && Array.isArray(output.pages)) return output;
      return unreadable(key, "it does not hold a phase output");
    } catch (error) {
      if (error instanceof SyntaxError) return unreadable(key, "it is not valid JSON");
      throw error;
    }
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

  private async getJson<T>(key: string): Promise<T> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const text = (await out.Body?.transformToString("utf8")) ?? "null";
    return JSON.parse(text) as T;
  }
}

/** The stand-in for an output object that cannot be read: an error of its job and phase. */
function unreadable(key: string, why: string): PhaseOutput {
  const [, batchId = "", jobId = "", file = ""] = key.split("/");
  const phase = file.replace(/\.json$/, "");
  return {
    batchId,
    jobId,
    jobName: jobId,
    phase,
    status: "error",
    attempt: 0,
    startedAt: "",
    endedAt: "",
    pages: [],
    error: {
      name: "OutputUnreadable",
      message: `the saved output of ${phase} is unreadable: ${why}`,
    },
  };
}
