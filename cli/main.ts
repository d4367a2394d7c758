import { closeSync, openSync, writeSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { currentActor, resolveConnection } from "../client/connection.ts";
import { exportResults, type JobResult, type ResultsHead } from "../client/results-export.ts";
import {
  assertId,
  DEFAULT_CANCEL_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  type JobFilter,
  StepbatchApiError,
  StepbatchClient,
  StepbatchTimeoutError,
  type SubmitResponse,
  type SubsetCancelResponse,
} from "../client/stepbatch-client.ts";
import {
  BATCH_STATUSES,
  type JobStatus,
  STOP_MODES,
  type StopMode,
} from "../functions/core/model.ts";
import {
  type LocalScheduleView,
  LocalStackClient,
  type ScheduleRun,
} from "../local/local-client.ts";
import { type CancelTarget, readBackCancel } from "./cancel-readback.ts";
import {
  describeFailure,
  EXIT,
  EXIT_CODES_HELP,
  READ_BACK_EXIT,
  UsageError,
} from "./exit-codes.ts";
import * as format from "./format.ts";
import { readJobs } from "./jobs-input.ts";
import { serveMcp } from "./mcp.ts";
import { hasEnded, watchBatch } from "./watch.ts";

interface GlobalOptions {
  apiUrl?: string;
  token?: string;
  json?: boolean;
  /** Milliseconds, from --timeout <seconds>. */
  timeout?: number;
}

/** --timeout or STEPBATCH_TIMEOUT: a number of seconds greater than 0 (fractions allowed), in ms. */
const timeoutMs = (value: string) => {
  const s = Number(value);
  if (!Number.isFinite(s) || s <= 0 || value.trim() === "")
    throw new UsageError(
      `--timeout (or STEPBATCH_TIMEOUT) must be a number of seconds greater than 0, not '${value}'`,
    );
  return Math.max(1, Math.round(s * 1000));
};

const program = new Command("stepbatch")
  .description(
    [
      "Run batches of long jobs on AWS and stop them safely.",
      "The API URL and token come from --api-url/--token, STEPBATCH_API_URL/STEPBATCH_TOKEN, or the local stack of the project you are in (npx stepbatch dev).",
      `A request gives up after ${DEFAULT_TIMEOUT_MS / 1000} s, a cancel after ${DEFAULT_CANCEL_TIMEOUT_MS / 1000} s; --timeout <seconds> (or STEPBATCH_TIMEOUT) sets both.`,
      "A cancel that times out is not reported as failed: the batch is read back and what it shows is reported (exit 0 if the cancel took effect, 9 if it cannot tell; see Exit codes).",
    ].join("\n"),
  )
  .addOption(new Option("--api-url <url>", "API base URL"))
  .addOption(new Option("--token <token>", "API token"))
  .addOption(
    new Option(
      "--timeout <seconds>",
      `seconds to wait for each answer of the API (default ${DEFAULT_TIMEOUT_MS / 1000}, ${DEFAULT_CANCEL_TIMEOUT_MS / 1000} for cancels)`,
    )
      .env("STEPBATCH_TIMEOUT")
      .argParser(timeoutMs),
  )
  .option("--json", "print the API's JSON answers instead of tables", false)
  .addHelpText("after", EXIT_CODES_HELP)
  .exitOverride()
  .configureOutput({
    outputError: (text, write) => write(`stepbatch: ${text.replace(/^error: /, "")}`),
  });

const globals = (): GlobalOptions => program.opts<GlobalOptions>();
const client = () => {
  const { apiUrl, token, timeout } = globals();
  const connection = resolveConnection({
    ...(apiUrl ? { apiUrl } : {}),
    ...(token ? { token } : {}),
  });
  return new StepbatchClient({
    apiUrl: connection.apiUrl,
    token: connection.token,
    actor: currentActor(),
    ...(timeout ? { timeoutMs: timeout, cancelTimeoutMs: timeout } : {}),
  });
};
/** The client of the local stack's own routes (schedules), with the same connection settings. */
const localClient = () => {
  const { apiUrl, token, timeout } = globals();
  const connection = resolveConnection({
    ...(apiUrl ? { apiUrl } : {}),
    ...(token ? { token } : {}),
  });
  return new LocalStackClient({
    apiUrl: connection.apiUrl,
    token: connection.token,
    ...(timeout ? { timeoutMs: timeout } : {}),
  });
};
const print = (json: unknown, human: string) =>
  process.stdout.write(`${globals().json ? JSON.stringify(json, null, 2) : human}\n`);
const positiveInt = (what: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`${what} must be a whole number of at least 1, not '${value}'`);
  return n;
};

/** `--mode` and `--grace` of every cancel command. */
const MODE_OPTION = [
  "--mode <mode>",
  `how running work stops: ${STOP_MODES.join(", ")} (default now: at the next safe point; drain: running jobs finish all their phases; after-phase: they finish the phase they are in)`,
  (value: string) => {
    if (!(STOP_MODES as readonly string[]).includes(value))
      throw new UsageError(`--mode must be one of ${STOP_MODES.join(", ")}, not '${value}'`);
    return value;
  },
] as const;
const GRACE_OPTION = [
  "--grace <seconds>",
  "with --mode now: a phase still running this long after the cancel is reported as ignoring its signal",
  positiveInt("--grace"),
] as const;

/** The job filter the cancel options describe, if any. */
function filterOf(options: {
  status?: string;
  phase?: string;
  name?: string;
  input?: string[];
}): JobFilter | undefined {
  const input: Record<string, string | number | boolean | null> = {};
  for (const pair of options.input ?? []) {
    const at = pair.indexOf("=");
    if (at < 1) throw new UsageError(`--input takes field=value, not '${pair}'`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: the text itself
    }
    input[pair.slice(0, at)] =
      value === null || ["string", "number", "boolean"].includes(typeof value)
        ? (value as string | number | boolean | null)
        : raw;
  }
  const filter: JobFilter = {
    ...(options.status
      ? {
          status: String(options.status)
            .split(",")
            .map((s) => s.trim()) as JobStatus[],
        }
      : {}),
    ...(options.phase ? { phase: options.phase } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(Object.keys(input).length > 0 ? { input } : {}),
  };
  return Object.keys(filter).length > 0 ? filter : undefined;
}

function cancelOptions(options: { reason?: string; mode?: string; grace?: number }) {
  return {
    ...(options.reason ? { reason: options.reason } : {}),
    ...(options.mode ? { mode: options.mode as StopMode } : {}),
    ...(options.grace !== undefined ? { graceSeconds: options.grace } : {}),
  };
}

/**
 * Sends a cancel and prints its answer. When the request times out, the cancel may well have
 * taken effect (under load one can take longer than the client waits): reads the batch back and
 * reports what it shows instead of a failure, with an exit code that says which (READ_BACK_EXIT).
 */
async function cancel<T>(
  target: CancelTarget,
  send: (api: StepbatchClient) => Promise<T>,
  show: (answer: T) => string,
): Promise<void> {
  const api = client();
  let answer: T;
  try {
    answer = await send(api);
  } catch (error) {
    if (!(error instanceof StepbatchTimeoutError)) throw error;
    const readBack = await readBackCancel(api, target, error);
    const check = `; check with: stepbatch status ${target.batchId}${target.scope === "job" ? ` --job ${target.jobId}` : ""} (sending the cancel again is safe)`;
    process.exitCode = READ_BACK_EXIT[readBack.outcome];
    if (process.exitCode === EXIT.ok) print(readBack, readBack.message);
    else
      process.stderr.write(
        `stepbatch: ${readBack.message}${readBack.outcome === "unconfirmed" ? check : ""}\n`,
      );
    return;
  }
  print(answer, show(answer));
}

/**
 * The exit code of a cancel of chosen jobs: 0 when one was cancelled; 3 when none exists; 4 when
 * they had all finished (or are in their final commit), as the API's 404 and 409 would.
 */
function nothingCancelledExit(answer: SubsetCancelResponse): number {
  if (answer.result !== 0) return EXIT.ok;
  const outcomes = Object.values(answer.outcomes);
  return outcomes.every((o) => o.outcome === "not_found") ? EXIT.notFound : EXIT.conflict;
}

const nonNegativeInt = (what: string) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n))
    throw new UsageError(`${what} must be a whole number of at least 0, not '${value}'`);
  return n;
};

/**
 * Writes every job with results to a file as it is read: a JSON document (the batch, its summary
 * with every job's errors, and the jobs), or NDJSON (the batch and summary, then one job a line,
 * each with its own errors) for large batches. Returns how many jobs it wrote.
 */
async function writeAllResults(api: StepbatchClient, batchId: string, file: string) {
  const ndjson = file.endsWith(".ndjson");
  const jobs: JobResult[] = [];
  let head: ResultsHead | undefined;
  const out = openSync(file, "w");
  try {
    const exported = await exportResults(api, batchId, {
      head: (first) => {
        head = first;
        if (ndjson) writeSync(out, `${JSON.stringify({ summary: first })}\n`);
      },
      job: (job) => {
        if (ndjson) writeSync(out, `${JSON.stringify(job)}\n`);
        else jobs.push(job);
      },
    });
    if (!ndjson && head) {
      const { partialResults, ...batch } = head;
      const summary = { ...partialResults, errors: exported.errors };
      writeSync(out, `${JSON.stringify({ ...batch, partialResults: summary, jobs }, null, 2)}\n`);
    }
    return exported.jobs;
  } finally {
    closeSync(out);
  }
}

/** Watches until the batch ends; Ctrl-C stops the watching, not the batch, and says so. */
async function watch(batchId: string, intervalMs: number): Promise<number> {
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once("SIGINT", onInterrupt);
  try {
    const view = await watchBatch(client(), batchId, {
      intervalMs,
      json: Boolean(globals().json),
      signal: controller.signal,
      out: process.stdout,
    });
    if (controller.signal.aborted && !hasEnded(view)) {
      process.stderr.write(
        `\nstepbatch: stopped watching; batch ${batchId} keeps running (stepbatch status ${batchId}, stepbatch cancel ${batchId})\n`,
      );
      return EXIT.interrupted;
    }
    if (globals().json)
      process.stdout.write(
        `${JSON.stringify({ type: "end", batchId, status: view.status, progress: view.progress })}\n`,
      );
    else process.stdout.write(`Batch ${batchId} ended: ${view.status}\n`);
    return view.status === "succeeded" ? EXIT.ok : EXIT.batchNotSucceeded;
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

program
  .command("submit")
  .description(
    "start a batch: jobs as arguments, or --file (JSON or one name per line; - for stdin)",
  )
  .argument("[jobs...]", "job names, e.g. RY.TO TD.TO")
  .option("-f, --file <path>", "read the jobs from a file (- for stdin)")
  .option("-n, --name <name>", "a name for the batch")
  .option(
    "-c, --concurrency <n>",
    "jobs running at once (1-40, default 10)",
    positiveInt("--concurrency"),
  )
  .option("--input <json>", 'input for every named job, e.g. \'{"pages":10,"workMs":5000}\'')
  .option("--idempotency-key <key>", "repeat-safe submit: the same key returns the same batch")
  .option("-w, --watch", "watch the batch until it ends", false)
  .option("--interval <ms>", "watch: poll interval", positiveInt("--interval"), 1000)
  .action(async (jobArgs: string[], options) => {
    const { jobs, body } = readJobs(jobArgs, options);
    const answer = await client().submit(
      {
        ...body,
        jobs,
        ...(options.name ? { name: options.name } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      },
      options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {},
    );
    print(answer, format.submitted(answer));
    if (options.watch) process.exitCode = await watch(answer.batchId, options.interval);
  });

program
  .command("watch")
  .description(
    "follow a batch with a live progress bar until it ends (Ctrl-C stops watching, not the batch)",
  )
  .argument("<batchId>")
  .option("--interval <ms>", "poll interval", positiveInt("--interval"), 1000)
  .action(async (batchId: string, options) => {
    process.exitCode = await watch(batchId, options.interval);
  });

program
  .command("status")
  .description("a batch's status and jobs, or one job's with --job")
  .argument("<batchId>")
  .option("--job <jobId>", "show one job and its phase timeline")
  .action(async (batchId: string, options) => {
    if (options.job) {
      const view = await client().getJob(batchId, options.job);
      print(view, format.job(view));
    } else {
      const view = await client().getBatch(batchId);
      print(view, format.batchStatus(view));
    }
  });

program
  .command("list")
  .description("batches, newest first")
  .addOption(new Option("--status <status>", "only batches in this status").choices(BATCH_STATUSES))
  .option("--limit <n>", "how many (1-100)", positiveInt("--limit"), 20)
  .option("--cursor <cursor>", "the next page, from a previous list")
  .action(async (options) => {
    const list = await client().listBatches({
      limit: options.limit,
      ...(options.status ? { status: options.status } : {}),
      ...(options.cursor ? { cursor: options.cursor } : {}),
    });
    print(list, format.batchList(list));
  });

program
  .command("results")
  .description("a batch's results so far (partial or final), a page of jobs at a time")
  .argument("<batchId>")
  .option("--limit <n>", "jobs per page (1-100)", positiveInt("--limit"), 20)
  .option("--cursor <cursor>", "the next page, from a previous answer")
  .option("--items <n>", "items shown per phase", nonNegativeInt("--items"), 5)
  .option(
    "-o, --output <file>",
    "write every job's outputs and items to a file: JSON, or NDJSON (one job a line) if it ends in .ndjson",
  )
  .action(async (batchId: string, options) => {
    const api = client();
    if (options.output) {
      const written = await writeAllResults(api, batchId, options.output as string);
      process.stderr.write(
        `stepbatch: ${written} job${written === 1 ? "" : "s"} with results written to ${options.output}\n`,
      );
      return;
    }
    const view = await api.getResults(batchId, {
      limit: options.limit,
      items: options.items,
      ...(options.cursor ? { cursor: options.cursor } : {}),
    });
    print(view, format.results(view));
  });

program
  .command("output")
  .description("one job's outputs, items and checkpoints")
  .argument("<batchId>")
  .argument("<jobId>")
  .option("--phase <name>", "only this phase")
  .option("--items <n>", "items shown per phase", nonNegativeInt("--items"), 20)
  .option("--items-offset <n>", "skip this many items first", nonNegativeInt("--items-offset"), 0)
  .action(async (batchId: string, jobId: string, options) => {
    const view = await client().getJobOutput(batchId, jobId, {
      items: options.items,
      itemsOffset: options.itemsOffset,
      ...(options.phase ? { phase: options.phase } : {}),
    });
    print(view, format.jobOutput(view));
  });

program
  .command("cancel")
  .description(
    "cancel a batch, some of its jobs (--jobs), or the jobs a filter chooses (--status, --phase, --name, --input; preview with --dry-run, then --confirm <token>); prints each job's outcome and the results kept",
  )
  .argument("<batchId>")
  .option("--jobs <ids>", "comma-separated job ids or names (a subset)")
  .option("--status <statuses>", "filter: comma-separated job statuses, e.g. queued,running")
  .option("--phase <phase>", "filter: jobs in this phase")
  .option("--name <pattern>", "filter: job names matching this pattern (* and ?)")
  .option(
    "--input <field=value>",
    "filter: jobs whose input has this value (repeatable; values are JSON when they parse)",
    (value: string, previous: string[] = []) => [...previous, value],
  )
  .option(
    "--dry-run",
    "with a filter: show the jobs it chooses and a confirm token; cancel nothing",
  )
  .option("--confirm <token>", "cancel exactly the jobs a --dry-run chose")
  .option("-r, --reason <reason>", "why (kept in the audit trail)")
  .option(...MODE_OPTION)
  .option(...GRACE_OPTION)
  .action(async (batchId: string, options) => {
    const reason = cancelOptions(options);
    const filter = filterOf(options);
    if (options.dryRun) {
      if (!filter)
        throw new UsageError(
          "--dry-run previews a filter: give --status, --phase, --name or --input",
        );
      const preview = await client().previewCancel(batchId, filter);
      print(preview, format.selectionPreview(preview));
      return;
    }
    if (options.confirm || filter) {
      if (options.jobs) throw new UsageError("give --jobs, a filter, or --confirm, not several");
      const answer = options.confirm
        ? await client().cancelSelection(batchId, String(options.confirm), reason)
        : await client().cancelMatching(batchId, filter ?? {}, reason);
      process.exitCode = nothingCancelledExit(answer);
      print(answer, format.subsetCancelled(answer));
      return;
    }
    if (options.jobs) {
      const items = String(options.jobs)
        .split(",")
        .map((j) => j.trim())
        .filter(Boolean);
      if (items.length === 0) throw new UsageError("--jobs names no job");
      await cancel(
        { scope: "subset", batchId, jobs: items },
        (api) => api.cancelJobs(batchId, items, reason),
        (answer) => {
          process.exitCode = nothingCancelledExit(answer);
          return format.subsetCancelled(answer);
        },
      );
    } else {
      await cancel(
        { scope: "batch", batchId },
        (api) => api.cancelBatch(batchId, reason),
        format.batchCancelled,
      );
    }
  });

program
  .command("cancel-job")
  .description("cancel one job, by its id (job-00001) or its name")
  .argument("<batchId>")
  .argument("<job>", "the job's id or name")
  .option("-r, --reason <reason>", "why (kept in the audit trail)")
  .option(...MODE_OPTION)
  .option(...GRACE_OPTION)
  .action(async (batchId: string, job: string, options) => {
    const reason = cancelOptions(options);
    assertId("job id", job); // by name too: what could never be an id is refused before sending
    if (/^job-\d{5}$/.test(job)) {
      await cancel(
        { scope: "job", batchId, jobId: job },
        (api) => api.cancelJob(batchId, job, reason),
        (answer) => {
          // As by name (code 1): a job someone cancelled before was not cancelled by this call.
          if (answer.alreadyCancelled) process.exitCode = EXIT.conflict;
          return answer.message;
        },
      );
      return;
    }
    // A name: names are never shaped like ids, so the subset cancel finds it without ambiguity.
    await cancel(
      { scope: "subset", batchId, jobs: [job] },
      (api) => api.cancelJobs(batchId, [job], reason),
      (answer) => {
        process.exitCode = nothingCancelledExit(answer);
        return Object.values(answer.outcomes)[0]?.text ?? answer.message;
      },
    );
  });

program
  .command("receipt")
  .description("a cancel's receipt: each affected job's outcome as it settles")
  .argument("<batchId>")
  .argument("<cancellationId>", "the cancellationId a cancel answered with")
  .option("--limit <n>", "jobs per page (1-100)", positiveInt("--limit"))
  .option("--cursor <cursor>", "the nextCursor of the previous page")
  .action(async (batchId: string, cancellationId: string, options) => {
    assertId("cancellation id", cancellationId);
    const answer = await client().getCancellation(batchId, cancellationId, {
      ...(options.limit ? { limit: options.limit as number } : {}),
      ...(options.cursor ? { cursor: options.cursor as string } : {}),
    });
    print(answer, format.receipt(answer));
  });

program
  .command("resume")
  .description(
    "run a batch's cancelled jobs again in a new run: each starts at the phase it stopped in, from its last checkpoint; jobs that succeeded never rerun",
  )
  .argument("<batchId>")
  .argument("[jobs...]", "job ids or names to resume (default: every cancelled job)")
  .option("--reason <text>", "why, for the audit trail")
  .action(async (batchId: string, jobs: string[], options) => {
    const answer = await client().resume(batchId, {
      ...(jobs.length > 0 ? { jobs } : {}),
      ...(options.reason ? { reason: options.reason as string } : {}),
    });
    print(answer, format.resumed(answer));
  });

program
  .command("delete-job")
  .description("delete a finished job's record")
  .argument("<batchId>")
  .argument("<jobId>")
  .action(async (batchId: string, jobId: string) => {
    const answer = await client().deleteJob(batchId, jobId);
    print(answer, `Deleted job ${answer.jobId} (${answer.name}, ${answer.status}) from ${batchId}`);
  });

program
  .command("consolidate")
  .description(
    "write a batch's results so far to permanent storage, and download them with --download",
  )
  .argument("<batchId>")
  .option("-d, --download <file>", "also save the consolidated results to this file")
  .action(async (batchId: string, options) => {
    const answer = await client().consolidate(batchId);
    if (options.download) {
      const response = await fetch(answer.downloadUrl);
      if (!response.ok)
        throw new Error(
          `the consolidated results could not be downloaded (HTTP ${response.status}); they are at ${answer.uri}`,
        );
      const out = openSync(options.download as string, "w");
      try {
        writeSync(out, Buffer.from(await response.arrayBuffer()));
      } finally {
        closeSync(out);
      }
      process.stderr.write(`stepbatch: consolidated results saved to ${options.download}\n`);
    }
    print(answer, format.consolidated(answer));
  });

program
  .command("schedules")
  .description("the scheduled batches of the config (local stack)")
  .action(async () => {
    const { schedules } = await localClient().schedules();
    const lines = schedules.map((s) => {
      const { scheduleName, batch } = scheduledBatchOf(s);
      return `${(scheduleName ?? s.name).padEnd(24)} ${s.expression} ${s.timezone}${s.enabled ? "" : " (disabled)"}: ${batch?.jobs?.length ?? 0} jobs`;
    });
    print({ schedules }, lines.join("\n") || "No schedules.");
  });

program
  .command("run-schedule")
  .description("run one occurrence of a schedule now, as EventBridge Scheduler would (local stack)")
  .argument("<name>", "the schedule's name in the config's schedules")
  .option(
    "--scheduled-time <iso>",
    "the occurrence to run (default: now); the same occurrence never starts two batches",
  )
  .action(async (name: string, options) => {
    const local = localClient();
    const answer = (await local.runSchedule(
      await deployedScheduleName(local, name),
      options.scheduledTime ? { scheduledTime: options.scheduledTime } : {},
    )) as ScheduleRun & SubmitResponse;
    print(
      answer,
      `Schedule ${answer.schedule} (${answer.scheduledTime}): ${format.submitted(answer)}`,
    );
  });

/** What a stepbatch schedule's target input holds: its name in the config and its batch. */
function scheduledBatchOf(schedule: LocalScheduleView): {
  scheduleName?: string;
  batch?: { jobs?: unknown[] };
} {
  const input = schedule.input as { scheduleName?: unknown; batch?: { jobs?: unknown[] } } | null;
  return {
    ...(typeof input?.scheduleName === "string" ? { scheduleName: input.scheduleName } : {}),
    ...(input?.batch ? { batch: input.batch } : {}),
  };
}

/**
 * The deployed name of a schedule given by that name or by its name in the config
 * (deployed names carry the stack's prefix). A name that is neither is refused, naming them.
 */
async function deployedScheduleName(local: LocalStackClient, name: string): Promise<string> {
  const { schedules } = await local.schedules();
  const found =
    schedules.find((s) => s.name === name) ??
    schedules.find((s) => scheduledBatchOf(s).scheduleName === name);
  if (found) return found.name;
  const known = schedules.map((s) => scheduledBatchOf(s).scheduleName ?? s.name);
  throw new StepbatchApiError(
    404,
    "SCHEDULE_NOT_FOUND",
    `no schedule '${name}' (schedules: ${known.join(", ") || "none"})`,
  );
}

/**
 * A command that parses its own arguments (`dev`, `init`): commander passes them on untouched.
 * Its module is loaded on demand: only `dev` needs the CDK and the emulators.
 */
function ownArgumentsCommand(
  name: string,
  description: string,
  run: (args: readonly string[]) => Promise<void>,
): void {
  program
    .command(name)
    .description(description)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_options, command: Command) => run(command.args));
}

ownArgumentsCommand(
  "dev",
  "run your pipeline on this machine: the embedded local stack (dev --help)",
  async (args) => (await import("../local/dev.ts")).dev(args),
);
ownArgumentsCommand(
  "init",
  "create a stepbatch project in the current folder (init --help)",
  async (args) => (await import("./init.ts")).init(args),
);

program
  .command("mcp")
  .description("run the MCP server on stdio, for AI assistants")
  .action(async () => {
    await serveMcp(client());
  });

export async function main(argv: string[]): Promise<void> {
  // `stepbatch list | head`: the reader went away, which is not an error of ours.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; bad usage has already been printed.
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    const { code, line } = describeFailure(error);
    process.stderr.write(`stepbatch: ${line}\n`);
    process.exitCode = code;
  }
}
