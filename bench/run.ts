import { mkdirSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import Table from "cli-table3";
import { StepbatchClient } from "../client/stepbatch-client.ts";
import { PRICES } from "../functions/core/prices.ts";
import { type LocalStack, PROJECT_ROOT, startLocalStack } from "../local/stack.ts";
import demo from "../stepbatch.config.ts";
import { barChart } from "./chart.ts";
import { NaiveDesign } from "./naive.ts";
import { log, ms, sleep, summary, waitUntil } from "./stats.ts";
import { cancelUnderLoad } from "./under-load.ts";

/**
 * `npm run bench`: cancel API latency by batch size, abort latency, orchestration throughput and
 * cost per 1,000 jobs, measured on the embedded local stack. Prints a table, writes JSON to
 * bench/results/ and draws bench/results/cancel-latency.svg. Sizes and repetitions can be set with
 * BENCH_SIZES (e.g. "10,100,1000") and BENCH_REPS (e.g. "12,12,6").
 */
const SIZES = (process.env.BENCH_SIZES ?? "10,100,1000").split(",").map(Number);
const REPS = (process.env.BENCH_REPS ?? "20,20,12").split(",").map(Number);
const THROUGHPUT_JOBS = Number(process.env.BENCH_THROUGHPUT_JOBS ?? 1000);
/** Jobs running at once in the cancel-latency batches: the same at every size, so size alone varies. */
const CANCEL_CONCURRENCY = Number(process.env.BENCH_CANCEL_CONCURRENCY ?? 10);
const OUT = join(PROJECT_ROOT, "bench", "results");
/** How long each phase of the polling jobs runs, to measure what watching for a cancel reads. */
const POLL_PHASE_MS = 4_000;
const PHASES_PER_JOB = demo.phases.length;
/** GB the demo's phases run with, all three together (`memoryMb`, else the construct's 512 MB). */
const PHASES_GB = demo.phases.reduce((sum, phase) => sum + (phase.memoryMb ?? 512) / 1024, 0);
/** Sizes of the "almost done" batches: 1 % of their jobs still running. */
const LATE_SIZES = (process.env.BENCH_LATE_SIZES ?? "10,1000").split(",").map(Number);
/** Jobs per page in the status and results reads of the late batches. */
const LATE_PAGE = 10;
/** A batch id that names no batch: a request for it warms a function up. */
const UNKNOWN_BATCH = "b-20260101000000-00000000";
/** The cancel-under-load scenario: this many batches of this many long jobs. */
const LOAD_BATCHES = 10;
const LOAD_JOBS = 100;
/** A job that does nothing in any phase: what orchestration alone costs. */
const ZERO_WORK = { pages: 0, workMs: 0 };

const counts = {
  dynamo: new Map<string, number>(),
  s3: new Map<string, number>(),
  dynamoItemsWritten: 0,
  readUnits: 0,
};
const bump = (map: Map<string, number>, key: string, by = 1) =>
  map.set(key, (map.get(key) ?? 0) + by);

function observeDynamo(request: IncomingMessage) {
  const op = String(request.headers["x-amz-target"] ?? "").split(".")[1] ?? "unknown";
  bump(counts.dynamo, op);
  if (op === "GetItem" || op === "Query") {
    // Read units, as DynamoDB bills them for items up to 4 KB: 1 strongly consistent, 0.5 not.
    let body = "";
    request.on("data", (chunk) => {
      body += String(chunk);
    });
    request.on("end", () => {
      const consistent = (JSON.parse(body || "{}") as { ConsistentRead?: boolean }).ConsistentRead;
      counts.readUnits += consistent ? 1 : 0.5;
    });
  }
  if (op === "BatchWriteItem") {
    let body = "";
    request.on("data", (chunk) => {
      body += String(chunk);
    });
    request.on("end", () => {
      const items = Object.values(
        (JSON.parse(body || "{}") as { RequestItems?: Record<string, unknown[]> }).RequestItems ??
          {},
      ).flat().length;
      counts.dynamoItemsWritten += items;
    });
  }
}

function observeS3(request: IncomingMessage) {
  const method = request.method ?? "GET";
  const isList = method === "GET" && (request.url ?? "").includes("list-type=2");
  bump(counts.s3, isList ? "LIST" : method);
}

const resetCounts = () => {
  counts.dynamo.clear();
  counts.s3.clear();
  counts.dynamoItemsWritten = 0;
  counts.readUnits = 0;
};

/** What the run since `lambdaBefore` asked of each service, from the request counters. */
function countedSince(
  stack: LocalStack,
  lambdaBefore: LocalStack["lambdaUsage"],
  transitions: number,
) {
  const sum = (ops: string[]) => ops.reduce((total, op) => total + (counts.dynamo.get(op) ?? 0), 0);
  return {
    transitions,
    lambdaInvocations: stack.lambdaUsage.invocations - lambdaBefore.invocations,
    lambdaGbSeconds: stack.lambdaUsage.gbSeconds - lambdaBefore.gbSeconds,
    dynamoReads: sum(["GetItem", "Query", "Scan", "BatchGetItem"]),
    dynamoWrites: sum(["PutItem", "UpdateItem", "DeleteItem"]) + counts.dynamoItemsWritten,
    dynamoByOperation: Object.fromEntries(counts.dynamo),
    s3PutList:
      (counts.s3.get("PUT") ?? 0) + (counts.s3.get("LIST") ?? 0) + (counts.s3.get("POST") ?? 0),
    s3Get: (counts.s3.get("GET") ?? 0) + (counts.s3.get("HEAD") ?? 0),
    /** Submit and the status reads a client makes. */
    apiRequests: 2,
  };
}

const describeCounted = (c: ReturnType<typeof countedSince>) =>
  `${c.transitions} state transitions, ${c.lambdaInvocations} Lambda invocations (${c.lambdaGbSeconds.toFixed(1)} GB-s), ${c.dynamoWrites} DynamoDB writes, ${c.dynamoReads} reads, ${c.s3PutList} S3 PUT/LIST, ${c.s3Get} GET`;

/** Dollars by service for what was counted, at the dated prices. */
const costLinesOf = (c: ReturnType<typeof countedSince>) => ({
  stepFunctions: c.transitions * PRICES.stepFunctionsStandardPerTransition,
  lambdaRequests: c.lambdaInvocations * PRICES.lambdaPerRequest,
  lambdaCompute: c.lambdaGbSeconds * PRICES.lambdaArmPerGbSecond,
  dynamoWrites: c.dynamoWrites * PRICES.dynamoOnDemandPerWriteUnit,
  dynamoReads: c.dynamoReads * PRICES.dynamoOnDemandPerReadUnit,
  s3: c.s3PutList * PRICES.s3PerPutListRequest + c.s3Get * PRICES.s3PerGetRequest,
  apiGateway: c.apiRequests * PRICES.apiGatewayRestPerRequest,
});

async function main() {
  const startedAt = Date.now();
  log("stepbatch bench: starting the local stack (in memory)...");
  const stack = await startLocalStack({
    port: 0,
    observe: { dynamodb: observeDynamo, s3: observeS3 },
  });
  const api = new StepbatchClient({ apiUrl: stack.apiUrl, token: stack.token, actor: "bench" });
  const ended = (status: string) =>
    ["succeeded", "completed_with_errors", "failed", "cancelled"].includes(status);
  /** Resolves once an execution has ended, telling how many of its jobs' iterations have. */
  const executionEnded = (executionArn: string, onProgress?: (jobsEnded: number) => void) =>
    waitUntil(async () => {
      if (onProgress) {
        const { events } = stack.stepFunctions.getExecutionHistory({
          executionArn,
          maxResults: 1_000_000,
        });
        onProgress(events.filter((e) => e.type === "MapIterationSucceeded").length);
        await sleep(1_000);
      }
      return stack.stepFunctions.describeExecution({ executionArn }).status !== "RUNNING";
    }, 600_000);

  // 1 and 2: cancel API latency by batch size, and abort latency of the phases running then.
  const cancelLatency: Record<number, number[]> = {};
  const abortLatency: number[] = [];
  for (const [index, size] of SIZES.entries()) {
    const reps = REPS[index] ?? REPS.at(-1) ?? 10;
    cancelLatency[size] = [];
    for (let rep = 1; rep <= reps; rep++) {
      process.stdout.write(`\rcancel latency: ${size} jobs, run ${rep}/${reps}   `);
      const jobs = Array.from({ length: size }, (_, i) => ({
        name: `j${i}`,
        input: { pages: 100, workMs: 120_000 },
      }));
      const { batchId } = await api.submit({
        name: `bench ${size}`,
        jobs,
        concurrency: CANCEL_CONCURRENCY,
      });
      const running = Math.min(size, CANCEL_CONCURRENCY);
      await waitUntil(async () => (await api.getBatch(batchId)).progress.running >= running);
      await sleep(300);
      const sentAt = Date.now();
      const t0 = performance.now();
      await api.cancelBatch(batchId, { reason: "bench" });
      cancelLatency[size]?.push(performance.now() - t0);
      const view = await waitUntil(async () => {
        const v = await api.getBatch(batchId);
        // Settled: no job queued or running, so the reconciler's marking is not in the next run.
        return ended(v.status) && v.progress.running + v.progress.queued === 0 ? v : undefined;
      });
      for (const job of view.jobs.filter((j) => j.wasInPhase)) {
        // The stopped phase records itself within the abort latency, maybe after the batch ended.
        const phase = await waitUntil(async () => {
          const detail = await api.getJob(batchId, job.jobId);
          return detail.phases.find((p) => p.name === job.wasInPhase && p.endedAt);
        }, 10_000).catch(() => undefined);
        if (phase?.endedAt) abortLatency.push(Date.parse(phase.endedAt) - sentAt);
      }
    }
    log("");
  }

  // 5: a batch almost done (99 % of 1,000 jobs, 90 % of 10): results, status and cancel answer
  // in about the same time whatever the size, as nothing on a request's path reads every output.
  const late: Record<
    number,
    { resultsMs: number[]; statusMs: number[]; cancelMs: number[]; cancelStatus: string }
  > = {};
  for (const size of LATE_SIZES) {
    const long = Math.max(1, Math.round(size / 100));
    // At least 10 cancels at each size: a small batch has one running job, so it is run 10 times.
    const reps = Math.max(1, Math.ceil(10 / long));
    const resultsMs: number[] = [];
    const statusMs: number[] = [];
    const cancelMs: number[] = [];
    let cancelStatus = "";
    for (let rep = 1; rep <= reps; rep++) {
      process.stdout.write(
        `\rlate batch: ${size} jobs (${rep}/${reps}), waiting for ${size - long} to end   `,
      );
      const jobs = Array.from({ length: size }, (_, i) => ({
        name: `late${i}`,
        input: i < size - long ? ZERO_WORK : { pages: 100, workMs: 120_000 },
      }));
      const { batchId } = await api.submit({ name: `late ${size}`, jobs, concurrency: 40 });
      await waitUntil(async () => {
        const v = await api.getBatch(batchId, { jobsLimit: 1 });
        return v.progress.succeeded >= size - long && v.progress.running === long;
      }, 600_000);
      // The same page at every size (10 jobs), so that only the batch's size differs.
      for (let read = 0; read < 10; read++) {
        let t = performance.now();
        await api.getResults(batchId, { limit: LATE_PAGE });
        resultsMs.push(performance.now() - t);
        t = performance.now();
        await api.getBatch(batchId, { jobsLimit: LATE_PAGE });
        statusMs.push(performance.now() - t);
      }
      // The cancel functions warm (a batch this long leaves them idle past their keep-warm time):
      // a cold start is the same at any size, and is not what is compared here.
      await api.cancelBatch(UNKNOWN_BATCH).catch(() => undefined);
      await api.cancelJob(batchId, "job-99999").catch(() => undefined);
      // Cancels at 99 %: each still-running job but one on its own, then the batch.
      // The long jobs are the batch's last ones.
      const { jobs: lastJobs } = await api.getBatch(batchId, {
        jobsOffset: size - long,
        jobsLimit: long,
      });
      const running = lastJobs.filter((j) => j.status === "running");
      for (const job of running.slice(1)) {
        const t = performance.now();
        await api.cancelJob(batchId, job.jobId, { reason: "bench" });
        cancelMs.push(performance.now() - t);
      }
      const t = performance.now();
      const cancelled = await api.cancelBatch(batchId, { reason: "bench" });
      cancelMs.push(performance.now() - t);
      cancelStatus = cancelled.status;
      await waitUntil(async () => ended((await api.getBatch(batchId, { jobsLimit: 1 })).status));
    }
    late[size] = { resultsMs, statusMs, cancelMs, cancelStatus };
    log("");
  }

  // 7: cancels under load: many long phases running (as many as the local Lambda runtime lets run
  // at once), then 100 cancel requests at once.
  log(`cancel under load: ${LOAD_BATCHES} batches of ${LOAD_JOBS} long jobs at concurrency 40...`);
  const underLoadResult = await cancelUnderLoad(api, {
    batches: LOAD_BATCHES,
    jobsPerBatch: LOAD_JOBS,
    wait: waitUntil,
    progress: (line) => process.stdout.write(`\r  ${line}   `),
  });
  log("");

  // 3 and 4: throughput of a large batch with zero work, and what it costs.
  resetCounts();
  const lambdaBefore = { ...stack.lambdaUsage };
  log(`throughput: one batch of ${THROUGHPUT_JOBS} jobs, concurrency 40, zero work...`);
  const jobs = Array.from({ length: THROUGHPUT_JOBS }, (_, i) => ({
    name: `t${i}`,
    input: ZERO_WORK,
  }));
  const t0 = performance.now();
  const submitted = await api.submit({ name: "throughput", jobs, concurrency: 40 });
  // Waits on the execution in this process: polling the API would add to what is counted.
  await executionEnded(submitted.executionArn, (ended) =>
    process.stdout.write(`\r  ${Math.floor((ended * 10) / THROUGHPUT_JOBS) * 10}% done   `),
  );
  const wallSeconds = (performance.now() - t0) / 1000;
  const done = await api.getBatch(submitted.batchId, { jobsLimit: 1 });
  log("");
  await sleep(500); // let the last reconcile and result reads settle before reading the counters
  const history = stack.stepFunctions.getExecutionHistory({
    executionArn: submitted.executionArn,
    maxResults: 1_000_000,
  }).events;
  const transitions =
    history.filter((e) => e.type.endsWith("StateEntered")).length +
    history.filter((e) => e.type === "TaskRetried").length;
  const counted = countedSince(stack, lambdaBefore, transitions);
  const costLines = costLinesOf(counted);
  const per1000 = 1000 / THROUGHPUT_JOBS;
  const costPer1000 = Object.values(costLines).reduce((a, b) => a + b, 0) * per1000;

  // 3b: the naive design, one Standard execution per job, run for real on the same stack.
  resetCounts();
  const naiveLambdaBefore = { ...stack.lambdaUsage };
  const naive = new NaiveDesign(stack);
  log(`naive design: ${THROUGHPUT_JOBS} executions, one per job, zero work...`);
  const naiveT0 = performance.now();
  const naiveRun = await naive.run(jobs, (ended) =>
    process.stdout.write(`\r  ${Math.floor((ended * 10) / THROUGHPUT_JOBS) * 10}% done   `),
  );
  const naiveWallSeconds = (performance.now() - naiveT0) / 1000;
  log("");
  await sleep(500);
  const naiveCounted = countedSince(
    stack,
    naiveLambdaBefore,
    naive.transitionsOf(naiveRun.executionArns),
  );
  await naive.shutdown();
  const naiveCostLines = costLinesOf(naiveCounted);
  const naivePer1000 = Object.values(naiveCostLines).reduce((a, b) => a + b, 0) * per1000;

  // 6: what a running phase spends on watching for a cancel: the read units of jobs whose
  // phases each run POLL_PHASE_MS, less those of the same jobs with no work, per phase-second.
  const pollJobs = 4;
  const readUnitsOf = async (workMs: number) => {
    counts.readUnits = 0;
    const polled = await api.submit({
      name: `polling ${workMs}`,
      jobs: Array.from({ length: pollJobs }, (_, i) => ({
        name: `p${i}`,
        input: { pages: 1, workMs },
      })),
      concurrency: pollJobs,
    });
    // Waits on the execution in this process: polling the API would read the batch, and count.
    await executionEnded(polled.executionArn);
    await sleep(1_000);
    return counts.readUnits;
  };
  log("polling: jobs whose phases run 4 s, against the same jobs with no work...");
  const busyUnits = await readUnitsOf(POLL_PHASE_MS);
  const idleUnits = await readUnitsOf(0);
  const phaseSeconds = pollJobs * PHASES_PER_JOB * (POLL_PHASE_MS / 1000);
  const pollReadUnitsPerPhaseSecond = Math.max(0, busyUnits - idleUnits) / phaseSeconds;

  await stack.stop();

  // The cost of 1,000 jobs whose three phases each run `seconds`: the zero-work run's, plus
  // their compute and their cancel polling at the measured rate (computed, not run).
  const perThousandWithPhasesOf = (seconds: number, zeroWork = costPer1000) =>
    zeroWork +
    1000 * PHASES_GB * seconds * PRICES.lambdaArmPerGbSecond +
    1000 *
      PHASES_PER_JOB *
      seconds *
      pollReadUnitsPerPhaseSecond *
      PRICES.dynamoOnDemandPerReadUnit;

  const results = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: (await import("node:os")).cpus().length, node: process.version },
    cancelLatencyMs: {
      ...Object.fromEntries(
        Object.entries(cancelLatency).map(([size, values]) => [size, summary(values)]),
      ),
      // At 99 % done: the cancels of the late batches (its running jobs one by one, then it).
      ...Object.fromEntries(
        Object.entries(late).map(([size, m]) => [`late${size}`, summary(m.cancelMs)]),
      ),
    },
    cancelFlatness:
      summary(cancelLatency[SIZES.at(-1) as number] ?? []).p95 /
      summary(cancelLatency[SIZES[0] as number] ?? []).p95,
    abortLatencyMs: summary(abortLatency),
    cancelUnderLoadMs: {
      ...summary(underLoadResult.requests.map((r) => r.ms)),
      batches: LOAD_BATCHES,
      jobsPerBatch: LOAD_JOBS,
      phasesRunningAtCancel: underLoadResult.running,
      byKind: Object.fromEntries(
        ["batch", "subset", "job"].map((kind) => [
          kind,
          summary(underLoadResult.requests.filter((r) => r.kind === kind).map((r) => r.ms)),
        ]),
      ),
      answeredWith: underLoadResult.requests.reduce<Record<string, number>>((by, r) => {
        by[r.status] = (by[r.status] ?? 0) + 1;
        return by;
      }, {}),
    },
    lateBatch: Object.fromEntries(
      Object.entries(late).map(([size, m]) => [
        size,
        {
          resultsMs: summary(m.resultsMs),
          statusMs: summary(m.statusMs),
          cancelMs: summary(m.cancelMs),
          cancelStatus: m.cancelStatus,
        },
      ]),
    ),
    throughput: {
      jobs: THROUGHPUT_JOBS,
      concurrency: 40,
      wallSeconds,
      jobsPerSecond: THROUGHPUT_JOBS / wallSeconds,
      overheadMsPerJob: (wallSeconds * 1000 * 40) / THROUGHPUT_JOBS,
      status: done.status,
    },
    cost: {
      prices: PRICES,
      counted,
      per1000JobsUsd: costPer1000,
      per1000JobsByService: Object.fromEntries(
        Object.entries(costLines).map(([k, v]) => [k, v * per1000]),
      ),
      naive: {
        design:
          "one Standard execution per job, the same per-job states and phase functions, no Map, no Finalize",
        wallSeconds: naiveWallSeconds,
        executions: naiveRun.statuses,
        counted: naiveCounted,
        per1000JobsByService: Object.fromEntries(
          Object.entries(naiveCostLines).map(([k, v]) => [k, v * per1000]),
        ),
      },
      transitionsPerJob: transitions / THROUGHPUT_JOBS,
      pollReadUnitsPerPhaseSecond,
      perThousandJobs: {
        zeroWork: costPer1000,
        oneMinutePhases: perThousandWithPhasesOf(60),
        fiveMinutePhases: perThousandWithPhasesOf(300),
      },
      // The naive design's phases are the same functions, polling alike.
      naivePerThousandJobs: {
        zeroWork: naivePer1000,
        oneMinutePhases: perThousandWithPhasesOf(60, naivePer1000),
        fiveMinutePhases: perThousandWithPhasesOf(300, naivePer1000),
      },
    },
    benchSeconds: (Date.now() - startedAt) / 1000,
  };

  mkdirSync(OUT, { recursive: true });
  const stamp = results.measuredAt.replace(/[:.]/g, "-");
  writeFileSync(join(OUT, `bench-${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(OUT, "latest.json"), `${JSON.stringify(results, null, 2)}\n`);
  const svg = barChart({
    title: "Cancel API latency by batch size (local stack)",
    unit: "milliseconds",
    groups: Object.entries(results.cancelLatencyMs).map(([size, s]) => ({
      label: `${size} jobs`,
      values: [
        { name: "p50", value: s.p50 },
        { name: "p95", value: s.p95 },
        { name: "p99", value: s.p99 },
      ],
    })),
    target: {
      label: "target p95 at the largest size (1.5 x p95 at the smallest)",
      value: 1.5 * (results.cancelLatencyMs[String(SIZES[0])]?.p95 ?? 0),
    },
  });
  writeFileSync(join(OUT, "cancel-latency.svg"), svg);

  const table = new Table({
    head: ["measure", "p50", "p95", "p99", "n", "target"],
    style: { head: [], border: [] },
  });
  for (const [size, s] of Object.entries(results.cancelLatencyMs)) {
    table.push([
      `cancel API, ${size} jobs`,
      ms(s.p50),
      ms(s.p95),
      ms(s.p99),
      String(s.n),
      size === String(SIZES.at(-1))
        ? `p95 <= ${ms(1.5 * (results.cancelLatencyMs[String(SIZES[0])]?.p95 ?? 0))}`
        : "",
    ]);
  }
  table.push([
    "abort (cancel -> phase stopped)",
    ms(results.abortLatencyMs.p50),
    ms(results.abortLatencyMs.p95),
    ms(results.abortLatencyMs.p99),
    String(results.abortLatencyMs.n),
    "p99 <= 1500 ms",
  ]);
  table.push([
    `cancel under load (${results.cancelUnderLoadMs.n} at once)`,
    ms(results.cancelUnderLoadMs.p50),
    ms(results.cancelUnderLoadMs.p95),
    ms(results.cancelUnderLoadMs.p99),
    String(results.cancelUnderLoadMs.n),
    "p99 <= 2000 ms",
  ]);
  log(table.toString());
  log(
    `  under load: ${underLoadResult.running} phases running in ${LOAD_BATCHES} batches of ${LOAD_JOBS} jobs; answered ${JSON.stringify(results.cancelUnderLoadMs.answeredWith)}`,
  );
  log(
    `cancel p95 ratio, ${SIZES.at(-1)} vs ${SIZES[0]} jobs: ${results.cancelFlatness.toFixed(2)} (target <= 1.5)`,
  );
  for (const [size, m] of Object.entries(results.lateBatch))
    log(
      `batch of ${size} jobs, 99 % done: results p50/p95 ${ms(m.resultsMs.p50)}/${ms(m.resultsMs.p95)}, status ${ms(m.statusMs.p50)}/${ms(m.statusMs.p95)}, cancels p50/p95 ${ms(m.cancelMs.p50)}/${ms(m.cancelMs.p95)} (${m.cancelStatus})`,
    );
  log(
    `throughput: ${THROUGHPUT_JOBS} jobs in ${wallSeconds.toFixed(1)} s = ${results.throughput.jobsPerSecond.toFixed(1)} jobs/s at concurrency 40; ${results.throughput.overheadMsPerJob.toFixed(0)} ms of orchestration per job`,
  );
  log(
    `cost per 1,000 jobs (prices of ${PRICES.date}, ${PRICES.region}): $${costPer1000.toFixed(4)}; ${JSON.stringify(Object.fromEntries(Object.entries(results.cost.per1000JobsByService).map(([k, v]) => [k, Number(v.toFixed(5))])))}`,
  );
  log(`  counted per ${THROUGHPUT_JOBS} jobs: ${describeCounted(counted)}`);
  log(
    `  naive design (one Standard execution per job, run for real: ${naiveRun.executionArns.length} executions in ${naiveWallSeconds.toFixed(1)} s): $${naivePer1000.toFixed(4)} per 1,000 jobs; counted ${describeCounted(naiveCounted)}`,
  );
  log(
    `  ${results.cost.transitionsPerJob.toFixed(1)} state transitions per job; watching for a cancel: ${pollReadUnitsPerPhaseSecond.toFixed(2)} read units per running phase per second`,
  );
  log(
    `  per 1,000 jobs with three phases of 1 min: $${results.cost.perThousandJobs.oneMinutePhases.toFixed(3)}, of 5 min: $${results.cost.perThousandJobs.fiveMinutePhases.toFixed(3)} (computed from the measured rates)`,
  );
  log(
    `results: ${join(OUT, "latest.json")}, chart: ${join(OUT, "cancel-latency.svg")} (${results.benchSeconds.toFixed(0)} s)`,
  );
}

main().catch((error: Error) => {
  process.stderr.write(`stepbatch bench: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
