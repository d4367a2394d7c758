/** DynamoDB items as the store writes them, for handler tests that mock the SDK. */
export const batchId = "b-m1abc2de-0a1b2c3d";
export const executionArn = `arn:aws:states:us-east-1:123456789012:execution:stepbatch-test:${batchId}`;

export const batchItem = (over: Record<string, unknown> = {}) => ({
  pk: `BATCH#${batchId}`,
  sk: "META",
  batchId,
  name: "tickers",
  status: "running",
  executionArn,
  total: 1,
  concurrency: 10,
  createdAt: "2026-01-01T00:00:00.000Z",
  source: { kind: "api" },
  ...over,
});

export const jobItem = (over: Record<string, unknown> = {}) => ({
  pk: `BATCH#${batchId}`,
  sk: "JOB#job-00001",
  batchId,
  jobId: "job-00001",
  name: "RY.TO",
  input: {},
  status: "queued",
  phases: {},
  createdAt: "2026-01-01T00:00:00.000Z",
  ...over,
});
