import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Table from "cli-table3";
import { StepbatchClient } from "../client/stepbatch-client.ts";
import { isBatchTerminal } from "../functions/core/model.ts";
import { PROJECT_ROOT, startLocalStack } from "../local/stack.ts";
import { log, ms, sleep, summary, waitUntil } from "./stats.ts";

/**
 * `npm run bench:console`: what watching a batch in the console costs, by batch size. One poll of
 * a batch's page is three reads (a page of 50 jobs, the execution's states, the results summary),
 * timed while the batch runs and once it has ended; then the batches list and the results
 * download. Sizes and polls can be set with BENCH_CONSOLE_SIZES ("10,1000") and
 * BENCH_CONSOLE_POLLS (30). Prints a table and writes bench/results/console.json.
 */
const SIZES = (process.env.BENCH_CONSOLE_SIZES ?? "10,1000").split(",").map(Number);
const POLLS = Number(process.env.BENCH_CONSOLE_POLLS ?? 30);
/** Between two polls: faster than the page's second, to keep the run short. */
const POLL_GAP_MS = 200;
/** Jobs that run long enough to be watched, and jobs that do nothing (a batch that ends fast). */
const LONG = { pages: 60, workMs: 30_000 };
const ZERO_WORK = { pages: 0, workMs: 0 };

interface Timed {
  readonly ms: number;
  readonly bytes: number;
}

async function main() {
  const stack = await startLocalStack({ port: 0 });
  const api = new StepbatchClient({ apiUrl: stack.apiUrl, token: stack.token, actor: "bench" });
  const signedIn = await fetch(`${stack.apiUrl}/_console/session`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: stack.token }),
    redirect: "manual",
  });
  const cookie = (signedIn.headers.get("set-cookie") ?? "").split(";")[0] as string;
  /** One of the console's reads, as its page makes it, timed to the last byte. */
  const read = async (path: string): Promise<Timed> => {
    const started = performance.now();
    const answer = await fetch(`${stack.apiUrl}${path}`, { headers: { cookie } });
    const body = await answer.arrayBuffer();
    if (!answer.ok) throw new Error(`GET ${path} answered ${answer.status}`);
    return { ms: performance.now() - started, bytes: body.byteLength };
  };
  const pollOf = async (batchId: string, executionArn: string) => {
    const id = encodeURIComponent(batchId);
    const [batch, execution, results] = await Promise.all([
      read(`/_console/api/batches/${id}?jobsOffset=0&jobsLimit=50`),
      read(`/_console/execution?arn=${encodeURIComponent(executionArn)}`),
      read(`/_console/api/batches/${id}/results?limit=1&items=0`),
    ]);
    return { batch: batch.ms, execution: execution.ms, results: results.ms };
  };
  const polls = async (batchId: string, executionArn: string) => {
    const seen = { batch: [] as number[], execution: [] as number[], results: [] as number[] };
    for (let i = 0; i < POLLS; i++) {
      const poll = await pollOf(batchId, executionArn);
      seen.batch.push(poll.batch);
      seen.execution.push(poll.execution);
      seen.results.push(poll.results);
      await sleep(POLL_GAP_MS);
    }
    return seen;
  };
  const submit = async (name: string, size: number, input: Record<string, unknown>) => {
    const jobs = Array.from({ length: size }, (_, i) => ({ name: `${name}-${i + 1}`, input }));
    const { batchId } = await api.submit({ name, jobs });
    return { batchId, executionArn: (await api.getBatch(batchId)).executionArn };
  };
  const untilEnded = (batchId: string) =>
    waitUntil(async () => isBatchTerminal((await api.getBatch(batchId)).status), 600_000);

  const results: Record<string, unknown> = {};
  const rows: [string, ...string[]][] = [];
  const p50p95 = (values: number[]) => {
    const s = summary(values);
    return `${ms(s.p50)} / ${ms(s.p95)}`;
  };
  for (const size of SIZES) {
    log(`console bench: ${size} jobs...`);
    const running = await submit(`watched-${size}`, size, LONG);
    await waitUntil(async () => (await api.getBatch(running.batchId)).progress.running > 0);
    const whileRunning = await polls(running.batchId, running.executionArn);
    await api.cancelBatch(running.batchId, { reason: "bench over" });
    await untilEnded(running.batchId);

    const ended = await submit(`ended-${size}`, size, ZERO_WORK);
    await untilEnded(ended.batchId);
    const firstAfterEnd = await pollOf(ended.batchId, ended.executionArn);
    const afterEnd = await polls(ended.batchId, ended.executionArn);
    const download = await read(`/_console/results/${encodeURIComponent(ended.batchId)}`);
    const list = [];
    for (let i = 0; i < POLLS; i++) list.push((await read("/_console/api/batches?limit=50")).ms);

    results[String(size)] = {
      running: Object.fromEntries(Object.entries(whileRunning).map(([k, v]) => [k, summary(v)])),
      ended: Object.fromEntries(Object.entries(afterEnd).map(([k, v]) => [k, summary(v)])),
      firstExecutionReadAfterEndMs: firstAfterEnd.execution,
      listMs: summary(list),
      download: { ms: download.ms, bytes: download.bytes },
    };
    rows.push(
      [`${size} jobs: batch page of 50 jobs, running`, p50p95(whileRunning.batch)],
      [`${size} jobs: execution view, running`, p50p95(whileRunning.execution)],
      [`${size} jobs: results summary, running`, p50p95(whileRunning.results)],
      [`${size} jobs: batch page of 50 jobs, ended`, p50p95(afterEnd.batch)],
      [
        `${size} jobs: execution view, ended (first read ${ms(firstAfterEnd.execution)})`,
        p50p95(afterEnd.execution),
      ],
      [`${size} jobs: batches list`, p50p95(list)],
      [
        `${size} jobs: results download (every job, grows by design)`,
        `${ms(download.ms)}, ${(download.bytes / 1024).toFixed(0)} KB`,
      ],
    );
  }
  await stack.stop();

  const out = join(PROJECT_ROOT, "bench", "results");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "console.json"), `${JSON.stringify(results, null, 2)}\n`);
  const table = new Table({ head: ["console read", "p50 / p95"] });
  table.push(...rows);
  log(table.toString());
  log(`results: ${join(out, "console.json")}`);
}

main().catch((error: Error) => {
  process.stderr.write(`stepbatch bench:console: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
