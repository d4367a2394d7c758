import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { PACKAGE_DIR } from "../infra/paths.ts";

export const INIT_HELP = `npx stepbatch init [folder]   create a stepbatch project (default: the current folder)

Writes stepbatch.config.ts (the pipeline), phases/ (one file per phase), infra/app.ts (a CDK app
with the Stepbatch construct), test/ (a phase tested in memory), tsconfig.json, cdk.json and a
README, and adds what they need to package.json (created if there is none). It never overwrites a
file: if one of them exists, it stops and names it.

Then: npm install, npx stepbatch dev, npx cdk deploy.`;

/** stepbatch's own package.json: its version, and the versions of what a project needs beside it. */
function ownPackage(): {
  version: string;
  dependencies: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies: Record<string, string>;
} {
  const file = join(PACKAGE_DIR, "package.json");
  if (!existsSync(file)) throw new Error(`stepbatch's own ${file} is missing: reinstall stepbatch`);
  return JSON.parse(readFileSync(file, "utf8"));
}

/** The test script `npm init` writes: `echo "Error: no test specified" && exit 1`. */
const NPM_PLACEHOLDER_TEST = /^echo "Error: no test specified" && exit 1$/;

/** Files a folder may hold and still hold no code of its own (what npm init and npm install leave). */
const NOT_CODE =
  /^(package\.json|package-lock\.json|npm-shrinkwrap\.json|node_modules|\.git|\.gitignore|\.npmrc|README\.md|.*\.tgz)$/;

function holdsNoCode(folder: string): boolean {
  return !existsSync(folder) || readdirSync(folder).every((entry) => NOT_CODE.test(entry));
}

/** The parts of a project's package.json that init reads. */
interface ProjectPackage {
  name?: string;
  version?: string;
  private?: boolean;
  type?: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** `npx stepbatch init [folder]`: scaffolds a working project; refuses to overwrite anything. */
export async function init(args: readonly string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help) {
    console.log(INIT_HELP);
    return;
  }
  const target = resolve(positionals[0] ?? ".");
  const templateDir = join(PACKAGE_DIR, "templates", "init");
  const files = listFiles(templateDir).map((file) => ({
    from: join(templateDir, file),
    // npm leaves out files named .gitignore when it packs: the template calls it gitignore.
    to: join(target, file === "gitignore" ? ".gitignore" : file),
  }));
  // A repository's own README and .gitignore are kept (.gitignore gets the lines it lacks); any
  // other file init would write must not be there yet.
  const kept = (to: string) => ["README.md", ".gitignore"].includes(relative(target, to));
  const taken = files
    .filter(({ to }) => existsSync(to) && !kept(to))
    .map(({ to }) => relative(target, to));
  if (taken.length > 0)
    throw new Error(
      `${target} already has ${taken.join(", ")}: init never overwrites a file; run it in an empty folder, or give it one (npx stepbatch init my-batches)`,
    );

  const own = ownPackage();
  const packageFile = join(target, "package.json");
  const existing = existsSync(packageFile)
    ? (JSON.parse(readFileSync(packageFile, "utf8")) as ProjectPackage)
    : {};
  const wanted = (name: string) =>
    own.dependencies[name] ?? own.peerDependencies[name] ?? own.devDependencies?.[name] ?? "*";
  // What `npm init -y` writes says nothing of the project yet: its CommonJS type and its
  // placeholder test script give way to the project's, in a folder that holds nothing else.
  const fresh = holdsNoCode(target);
  const adoptedType = existing.type === "commonjs" && fresh;
  const { test: existingTest, ...existingScripts } = existing.scripts ?? {};
  const placeholderTest = existingTest !== undefined && NPM_PLACEHOLDER_TEST.test(existingTest);
  const project = {
    name: existing.name ?? safeName(target),
    version: existing.version ?? "0.1.0",
    private: existing.private ?? true,
    ...existing,
    type: adoptedType ? "module" : (existing.type ?? "module"),
    scripts: {
      dev: "stepbatch dev",
      test:
        existingTest === undefined || placeholderTest
          ? "node --import tsx --test test/*.test.ts"
          : existingTest,
      typecheck: "tsc --noEmit",
      synth: "cdk synth",
      deploy: "cdk deploy",
      ...existingScripts,
    },
    dependencies: {
      stepbatch: `^${own.version}`,
      zod: wanted("zod"),
      ...existing.dependencies,
    },
    devDependencies: {
      "aws-cdk": wanted("aws-cdk"),
      "aws-cdk-lib": wanted("aws-cdk-lib"),
      constructs: wanted("constructs"),
      tsx: wanted("tsx"),
      typescript: wanted("typescript"),
      "@types/node": wanted("@types/node"),
      ...existing.devDependencies,
    },
  };
  if (project.type !== "module")
    throw new Error(
      `package.json says "type": "${project.type}", and the project init writes is ES modules: if your code here is ES modules too, set "type": "module" (npm pkg set type=module) and run init again; otherwise run init in a folder of its own (npx stepbatch init my-batches)`,
    );
  if (adoptedType)
    console.log(
      'stepbatch: package.json said "type": "commonjs" (npm init -y); it now says "module"',
    );

  const stackName = pascalCase(project.name);
  for (const { from, to } of files) {
    if (!existsSync(to)) cpSync(from, to, { recursive: true });
    else if (to.endsWith(".gitignore")) addMissingLines(from, to);
  }
  const app = join(target, "infra", "app.ts");
  writeFileSync(app, readFileSync(app, "utf8").replace("__STACK_NAME__", stackName));
  writeFileSync(packageFile, `${JSON.stringify(project, null, 2)}\n`);
  const into = relative(process.cwd(), target);
  console.log(`stepbatch: created a project in ${target} (its CDK stack: ${stackName})

  stepbatch.config.ts   the pipeline: Fetch -> Publish
  phases/               one file per phase
  infra/app.ts          the CDK app (the Stepbatch construct)
  test/                 npm test: a phase run in memory

Next:
${into ? `  cd ${into}\n` : ""}  npm install
  npx stepbatch dev
  npx cdk deploy`);
}

/** `my-batches` -> `MyBatches`: a CloudFormation stack name from the package's. */
function pascalCase(name: string): string {
  const words = name
    .replace(/^@[^/]+\//, "")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  const joined = words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("");
  return /^[A-Za-z]/.test(joined) ? joined : `Batches${joined}`;
}

/** Appends to a .gitignore the lines of the template's it does not have. */
function addMissingLines(from: string, to: string): void {
  const existing = readFileSync(to, "utf8");
  const have = new Set(existing.split("\n").map((line) => line.trim()));
  const missing = readFileSync(from, "utf8")
    .split("\n")
    .filter((line) => line.trim() && !have.has(line.trim()));
  if (missing.length === 0) return;
  const separator = existing.endsWith("\n") || existing === "" ? "" : "\n";
  writeFileSync(to, `${existing}${separator}${missing.join("\n")}\n`);
}

function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const shown = prefix ? `${prefix}/${name}` : name;
    return statSync(path).isDirectory() ? listFiles(path, shown) : [shown];
  });
}

/** A package name from a folder's name: lower case, letters, digits and dashes. */
function safeName(dir: string): string {
  const base = dir.split(/[\\/]/).filter(Boolean).at(-1) ?? "my-batches";
  return (
    base
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "my-batches"
  );
}
