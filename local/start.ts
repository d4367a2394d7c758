import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadPipeline } from "../infra/pipeline.ts";
import { writeFileAtomic } from "./files.ts";
import { PROJECT_ROOT, startLocalStack } from "./stack.ts";

const HELP = `npm start [-- options]    the embedded local stack: stepbatch on this machine, no Docker, no AWS

Options:
  --port <n>        API port (default: STEPBATCH_PORT or 3000)
  --data-dir <dir>  where batches are kept across restarts (default: STEPBATCH_DATA_DIR or .stepbatch)
  --in-memory       keep nothing: every start is empty
  --pipeline <name> the pipeline to run: demo (default), stock-digest, or the path of a module
                    whose default export is definePipeline(...) (default: STEPBATCH_PIPELINE)
  -h, --help        this help

The API token is STEPBATCH_TOKEN when set, else generated once and kept in <data-dir>/token.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      "data-dir": { type: "string" },
      "in-memory": { type: "boolean", default: false },
      pipeline: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const portText = values.port ?? process.env.STEPBATCH_PORT ?? "3000";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`port '${portText}' is not a port number (0 to 65535)`);
  }
  const dataDir = values["in-memory"]
    ? undefined
    : resolve(
        values["data-dir"] ?? process.env.STEPBATCH_DATA_DIR ?? join(PROJECT_ROOT, ".stepbatch"),
      );

  if (dataDir) refuseIfInUse(dataDir);
  const startedAt = Date.now();
  const pipeline = await loadPipeline(
    pipelineFile(values.pipeline ?? process.env.STEPBATCH_PIPELINE ?? "demo"),
  );
  console.log(
    "stepbatch: starting the local stack (synthesizing and bundling the CDK stack, starting DynamoDB, S3, Step Functions)...",
  );
  const stack = await startLocalStack({
    port,
    ...(process.env.STEPBATCH_TOKEN ? { token: process.env.STEPBATCH_TOKEN } : {}),
    ...(dataDir ? { dataDir } : {}),
    stackProps: { pipeline },
    log: (message) => console.log(`stepbatch: ${message}`),
  });
  const connection = join(dataDir ?? join(PROJECT_ROOT, ".stepbatch"), "local.json");
  if (dataDir)
    writeFileAtomic(
      connection,
      `${JSON.stringify({ apiUrl: stack.apiUrl, pid: process.pid }, null, 2)}\n`,
    );

  const auth = `-H "Authorization: Bearer ${stack.token}"`;
  console.log(`
stepbatch local stack is up in ${((Date.now() - startedAt) / 1000).toFixed(1)}s

  pipeline  ${pipeline.definition.name} (${pipeline.definition.phases.map((p) => p.name).join(" -> ")}, from ${pipeline.file})
  API       ${stack.apiUrl}
  token     ${stack.token}${process.env.STEPBATCH_TOKEN ? "  (from STEPBATCH_TOKEN)" : dataDir ? `  (kept in ${join(dataDir, "token")})` : "  (in memory)"}
  data      ${dataDir ?? "in memory: nothing is kept"}

Try it from another terminal:

  # start a batch of three jobs (5 pages each, 4 s per phase)
  curl -s -X POST ${stack.apiUrl}/batches ${auth} \\
    -H "Content-Type: application/json" \\
    -d '{"name":"demo","jobs":[{"name":"RY.TO","input":{"workMs":4000}},{"name":"TD.TO","input":{"workMs":4000}},{"name":"BNS.TO","input":{"workMs":4000}}],"concurrency":2}'

  # watch it (use the batchId from the answer)
  curl -s ${stack.apiUrl}/batches/<batchId> ${auth}

  # cancel it: running phases stop within about a second, results so far come back
  curl -s -X POST ${stack.apiUrl}/batches/<batchId>/cancel ${auth} \\
    -H "Content-Type: application/json" -d '{"reason":"wrong batch"}'

Ctrl-C stops the stack${dataDir ? "; batches are kept for the next start" : ""}.`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\nstepbatch: ${signal} received, stopping the local stack...`);
    await stack.stop();
    if (dataDir) rmSync(connection, { force: true });
    console.log("stepbatch: stopped.");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("Ctrl-C"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

/** A pipeline's module from `--pipeline`: a name under pipelines/, or a path. */
function pipelineFile(name: string): string {
  if (/^[a-z0-9-]+$/.test(name)) {
    const file = join("pipelines", name, "pipeline.ts");
    if (existsSync(join(PROJECT_ROOT, file))) return file;
    throw new Error(`no pipeline '${name}' in pipelines/ (demo or stock-digest), and no such file`);
  }
  if (!existsSync(resolve(name))) throw new Error(`--pipeline ${name}: no such file`);
  return resolve(name);
}

/** One stack per data folder: a second one would find DynamoDB's files locked. */
function refuseIfInUse(dataDir: string): void {
  const file = join(dataDir, "local.json");
  if (!existsSync(file)) return;
  let recorded: { pid?: number; apiUrl?: string };
  try {
    recorded = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return; // unreadable (cut short by a crash before it was written atomically): stale
  }
  const { pid, apiUrl } = recorded;
  if (!pid || pid === process.pid) return;
  try {
    process.kill(pid, 0); // throws when no such process
  } catch {
    return; // left behind by a stack that was killed: safe to start
  }
  throw new Error(
    `another local stack (pid ${pid}, ${apiUrl}) is using ${dataDir}; stop it first, or pass --data-dir or --in-memory`,
  );
}

main().catch((error: Error) => {
  console.error(`stepbatch: could not start the local stack: ${error.message}`);
  process.exit(1);
});
