import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { PROJECT_ROOT } from "../local/stack.ts";

/**
 * The LocalStack path: `deploy` deploys the very same CDK stack to a running LocalStack with
 * cdklocal and records the API URL and token; `test` runs the e2e suite against it.
 */
const ENDPOINT = process.env.LOCALSTACK_ENDPOINT ?? "http://localhost.localstack.cloud:4566";
const STATE = join(PROJECT_ROOT, ".stepbatch", "localstack.json");
const OUTPUTS = join(PROJECT_ROOT, ".stepbatch", "localstack-outputs.json");
const awsEnv = {
  AWS_ACCESS_KEY_ID: "test",
  AWS_SECRET_ACCESS_KEY: "test",
  AWS_REGION: "us-east-1",
  AWS_DEFAULT_REGION: "us-east-1",
  AWS_ENDPOINT_URL: ENDPOINT,
};

async function assertLocalStackUp(): Promise<void> {
  try {
    const response = await fetch(`${ENDPOINT}/_localstack/health`);
    if (!response.ok) throw new Error(`health answered ${response.status}`);
  } catch (error) {
    throw new Error(
      `LocalStack is not reachable at ${ENDPOINT} (${(error as Error).message}). Start it with \`docker compose up -d\` (needs Docker).`,
    );
  }
}

function run(command: string, args: string[], env: Record<string, string>): void {
  console.log(`$ ${command} ${args.join(" ")}`);
  const result = spawnSync(command, args, {
    cwd: PROJECT_ROOT,
    stdio: "inherit",
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) throw new Error(`${command} ${args[0]} failed (exit ${result.status})`);
}

async function deploy(): Promise<void> {
  await assertLocalStackUp();
  mkdirSync(join(PROJECT_ROOT, ".stepbatch"), { recursive: true });
  const cdk = join(PROJECT_ROOT, "node_modules", ".bin", "cdklocal");
  const env = {
    AWS_ENVAR_ALLOWLIST: "AWS_REGION,AWS_DEFAULT_REGION",
    AWS_REGION: "us-east-1",
    AWS_DEFAULT_REGION: "us-east-1",
  };
  run(cdk, ["bootstrap", "aws://000000000000/us-east-1"], env);
  run(cdk, ["deploy", "Stepbatch", "--require-approval", "never", "--outputs-file", OUTPUTS], env);
  const outputs = JSON.parse(readFileSync(OUTPUTS, "utf8")).Stepbatch as Record<string, string>;
  const secrets = new SecretsManagerClient({
    endpoint: ENDPOINT,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const secret = await secrets.send(
    new GetSecretValueCommand({ SecretId: outputs.TokenSecretArn }),
  );
  const state = {
    apiUrl: String(outputs.ApiUrl).replace(/\/+$/, ""),
    token: secret.SecretString ?? "",
  };
  writeFileSync(STATE, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  console.log(
    `\nDeployed to LocalStack.\n  API    ${state.apiUrl}\n  token  kept in ${STATE}\nRun the e2e suite against it: npm run test:e2e:localstack`,
  );
}

function test(): void {
  const state = JSON.parse(readFileSync(STATE, "utf8")) as { apiUrl: string; token: string };
  run(
    join(PROJECT_ROOT, "node_modules", ".bin", "vitest"),
    ["run", "test/e2e/batches.e2e.test.ts"],
    {
      ...awsEnv,
      E2E_API_URL: state.apiUrl,
      E2E_TOKEN: state.token,
    },
  );
}

const command = process.argv[2];
(async () => {
  if (command === "deploy") await deploy();
  else if (command === "test") test();
  else throw new Error("usage: tsx scripts/localstack.ts deploy|test");
})().catch((error: Error) => {
  console.error(`stepbatch: ${error.message}`);
  process.exit(1);
});
