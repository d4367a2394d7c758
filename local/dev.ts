import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { findConfig, loadPipeline } from "../infra/pipeline.ts";
import { cdkAppOf, readAssembly, synthesizeApp } from "./build.ts";
import { isRunning, writeFileAtomic } from "./files.ts";
import { startLocalStack } from "./stack.ts";
import type { CloudFormationTemplate } from "./template.ts";

export const DEV_HELP = `npx stepbatch dev [options]   run your pipeline on this machine: no Docker, no AWS account

Synthesizes your CDK app as \`cdk synth\` does (the app of your cdk.json; with --config, or without
a cdk.json, a stack holding the Stepbatch construct alone), bundling included, then runs the stack
that holds stepbatch on an embedded local stack: DynamoDB, S3, Step Functions, your phases as
Lambda functions, and the HTTP API, with a console for your batches at the API's address (sign in
with the token).

Options:
  --config <file>   run this pipeline's config on its own, without your CDK app (default:
                    STEPBATCH_CONFIG, else stepbatch.config.ts, .mts, .js or .mjs in the current
                    folder, with your CDK app)
  --port <n>        API port (default: STEPBATCH_PORT or 3000; 0 picks a free one)
  --data-dir <dir>  where batches are kept across restarts (default: STEPBATCH_DATA_DIR, else
                    .stepbatch/ in your project)
  --in-memory       keep nothing: every start is empty
  --bundles <dir>   run the cloud assembly \`cdk synth\` wrote (e.g. cdk.out, inside your project):
                    each function's bundle exactly as it will be deployed, without synthesizing
  --no-iam          do not check the functions' AWS calls against their roles (checked by
                    default, as on AWS: a grant missing from your CDK code fails with AccessDenied)
  -h, --help        this help

The API token is STEPBATCH_TOKEN when set, else generated once and kept in <data-dir>/token.
The stepbatch CLI run anywhere in your project finds the API and the token by itself.`;

/** `npx stepbatch dev`: the local stack on the user's project, until Ctrl-C. */
export async function dev(args: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      config: { type: "string" },
      port: { type: "string" },
      "data-dir": { type: "string" },
      "in-memory": { type: "boolean", default: false },
      "no-iam": { type: "boolean", default: false },
      bundles: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(DEV_HELP);
    return;
  }
  const portText = values.port ?? process.env.STEPBATCH_PORT ?? "3000";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535)
    throw new Error(`port '${portText}' is not a port number (0 to 65535)`);

  const startedAt = Date.now();
  const configText = values.config ?? process.env.STEPBATCH_CONFIG;
  const configFile = configText ? resolve(configText) : findConfig();
  if (!existsSync(configFile))
    throw new Error(
      `${values.config ? "--config" : "STEPBATCH_CONFIG"} ${configText}: no such file (${configFile})`,
    );
  console.log(`stepbatch: reading ${relative(process.cwd(), configFile) || configFile}...`);
  const pipeline = loadPipeline(configFile);
  const dataDir = values["in-memory"]
    ? undefined
    : resolve(
        values["data-dir"] ??
          process.env.STEPBATCH_DATA_DIR ??
          join(pipeline.projectRoot, ".stepbatch"),
      );
  if (dataDir) refuseIfInUse(dataDir);

  // The project's own CDK app when it has one (cdk.json), so what it adds around the construct
  // (phaseFunctions, grants, resources of its own) runs here too; an explicit config runs alone.
  const app = configText ? undefined : cdkAppOf(pipeline.projectRoot);
  const assembly = values.bundles ? resolve(values.bundles) : undefined;
  const built = assembly ? readAssembly(assembly) : undefined;
  const configPhases = pipeline.definition.phases.map((p) => p.name);
  const phases = (built && phasesBuiltInto(built.template)) ?? configPhases;
  if (built && phases.join(" -> ") !== configPhases.join(" -> "))
    console.log(
      `stepbatch: warning: ${relative(process.cwd(), built.outdir) || built.outdir} was built for the phases ${phases.join(" -> ")}, but ${relative(pipeline.projectRoot, pipeline.file)} now says ${configPhases.join(" -> ")}: what runs is what was built (run \`npx cdk synth\` again to run what the config says)`,
    );
  console.log(
    `stepbatch: starting the local stack (${assembly ? `reading the cloud assembly in ${relative(process.cwd(), assembly) || assembly}` : `synthesizing and bundling ${app ? `your CDK app: ${app.command}` : "your pipeline's stack"}`}, starting DynamoDB, S3, Step Functions)...`,
  );
  const stack = await startLocalStack({
    port,
    ...(process.env.STEPBATCH_TOKEN ? { token: process.env.STEPBATCH_TOKEN } : {}),
    ...(dataDir ? { dataDir } : {}),
    stackProps: { config: configFile },
    ...(assembly
      ? { synthesize: () => built ?? readAssembly(assembly) }
      : app
        ? { synthesize: (outdir: string) => synthesizeApp(outdir, pipeline.projectRoot, app) }
        : {}),
    projectRoot: pipeline.projectRoot,
    pipelineName: pipeline.definition.name,
    iam: !values["no-iam"],
    log: (message) => console.log(`stepbatch: ${message}`),
  });
  const connection = dataDir ? join(dataDir, "local.json") : undefined;
  if (connection)
    writeFileAtomic(
      connection,
      `${JSON.stringify({ apiUrl: stack.apiUrl, pid: process.pid }, null, 2)}\n`,
    );

  const { definition } = pipeline;
  const auth = `-H "Authorization: Bearer ${stack.token}"`;
  console.log(`
stepbatch local stack is up in ${((Date.now() - startedAt) / 1000).toFixed(1)}s

  pipeline  ${definition.name} (${phases.join(" -> ")}, ${built ? `as built into ${relative(process.cwd(), built.outdir) || built.outdir}` : `from ${relative(pipeline.projectRoot, pipeline.file)}`})
  API       ${stack.apiUrl}
  console   ${stack.apiUrl}/  (sign in with the token)
  token     ${stack.token}${process.env.STEPBATCH_TOKEN ? "  (from STEPBATCH_TOKEN)" : dataDir ? `  (kept in ${join(dataDir, "token")})` : "  (in memory)"}
  data      ${dataDir ?? "in memory: nothing is kept"}
  functions ${assembly ? `the bundles in ${relative(process.cwd(), assembly) || assembly}, as \`cdk synth\` wrote them` : "bundled from your sources just now, as `cdk synth` bundles them"}
  IAM       ${values["no-iam"] ? "not checked (--no-iam)" : "each function's AWS calls checked against its role, as on AWS"}

Try it from another terminal, in this project:
${
  dataDir
    ? ""
    : `
  # in memory, the stack writes no files for the CLI to find: tell it where the stack is
  export STEPBATCH_API_URL=${stack.apiUrl} STEPBATCH_TOKEN=${stack.token}
`
}
  npx stepbatch submit alpha beta gamma --watch      # a batch of three jobs
  npx stepbatch list                                 # batches, newest first
  npx stepbatch cancel <batchId> --reason "wrong batch"
  npx stepbatch results <batchId>

or over HTTP:

  curl -s -X POST ${stack.apiUrl}/batches ${auth} \\
    -H "Content-Type: application/json" -d '{"jobs":["alpha","beta"]}'

Ctrl-C stops the stack${dataDir ? "; batches are kept for the next start" : ""}.`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\nstepbatch: ${signal} received, stopping the local stack...`);
    await stack.stop();
    if (connection) rmSync(connection, { force: true });
    console.log("stepbatch: stopped.");
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("Ctrl-C"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
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
  if (!isRunning(pid)) return; // left behind by a stack that was killed: safe to start
  throw new Error(
    `another local stack (pid ${pid}, ${apiUrl}) is using ${dataDir}; stop it first, or pass --data-dir or --in-memory`,
  );
}

/** The phases a synthesized template was built for (the construct gives its functions PIPELINE_PHASES). */
function phasesBuiltInto(template: CloudFormationTemplate): string[] | undefined {
  for (const resource of Object.values(template.Resources)) {
    const text = resource.Properties?.Environment?.Variables?.PIPELINE_PHASES;
    if (resource.Type !== "AWS::Lambda::Function" || typeof text !== "string") continue;
    try {
      return (JSON.parse(text) as { name: string }[]).map((phase) => phase.name);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
