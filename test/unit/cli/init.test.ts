import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { init } from "../../../cli/init.ts";
import { PACKAGE_DIR } from "../../../infra/paths.ts";

const own = JSON.parse(readFileSync(join(PACKAGE_DIR, "package.json"), "utf8"));
const emptyFolder = () => mkdtempSync(join(tmpdir(), "stepbatch-init-"));
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));

beforeEach(() => {
  vi.spyOn(console, "log").mockImplementation(() => undefined);
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("npx stepbatch init", () => {
  it("writes a project into an empty folder: config, phases, CDK app, test, and a package.json that needs stepbatch", async () => {
    // Prepare
    const folder = emptyFolder();
    // Act
    await init([folder]);
    // Assess
    for (const file of [
      "stepbatch.config.ts",
      "phases/fetch.ts",
      "phases/publish.ts",
      "infra/app.ts",
      "test/fetch.test.ts",
      "cdk.json",
      "tsconfig.json",
      "README.md",
      ".gitignore",
    ])
      expect(existsSync(join(folder, file)), file).toBe(true);
    const project = readJson(join(folder, "package.json"));
    expect(project).toMatchObject({
      type: "module",
      scripts: { dev: "stepbatch dev", deploy: "cdk deploy" },
      dependencies: { stepbatch: `^${own.version}`, zod: own.dependencies.zod },
      devDependencies: { "aws-cdk-lib": own.peerDependencies["aws-cdk-lib"] },
    });
  });

  it("keeps what an existing package.json says, the way stepbatch was installed included", async () => {
    // Prepare: what `npm install ./stepbatch-0.1.0.tgz` leaves in a new folder.
    const folder = emptyFolder();
    writeFileSync(
      join(folder, "package.json"),
      JSON.stringify({ dependencies: { stepbatch: "file:../stepbatch-0.1.0.tgz" } }),
    );
    // Act
    await init([folder]);
    // Assess
    const project = readJson(join(folder, "package.json"));
    expect(project.dependencies.stepbatch).toBe("file:../stepbatch-0.1.0.tgz");
    expect(project.scripts.dev).toBe("stepbatch dev");
  });

  it("refuses to overwrite a file, names it, and writes nothing", async () => {
    // Prepare
    const folder = emptyFolder();
    writeFileSync(join(folder, "stepbatch.config.ts"), "// mine\n");
    // Act
    const attempt = init([folder]);
    // Assess
    await expect(attempt).rejects.toThrow(
      `${folder} already has stepbatch.config.ts: init never overwrites a file; run it in an empty folder, or give it one (npx stepbatch init my-batches)`,
    );
    expect(readdirSync(folder)).toEqual(["stepbatch.config.ts"]);
  });

  it("keeps a repository's own README and .gitignore, adding the lines stepbatch needs to the latter", async () => {
    // Prepare
    const folder = emptyFolder();
    writeFileSync(join(folder, "README.md"), "# ours\n");
    writeFileSync(join(folder, ".gitignore"), "node_modules/\ncoverage/");
    // Act
    await init([folder]);
    // Assess
    expect(readFileSync(join(folder, "README.md"), "utf8")).toBe("# ours\n");
    expect(readFileSync(join(folder, ".gitignore"), "utf8")).toBe(
      "node_modules/\ncoverage/\ncdk.out/\n.stepbatch/\n",
    );
  });

  it("names the CDK stack after the project, so two projects in one account do not collide", async () => {
    // Prepare
    const folder = join(emptyFolder(), "nightly-digests");
    // Act
    await init([folder]);
    // Assess
    const app = readFileSync(join(folder, "infra", "app.ts"), "utf8");
    expect(app).toContain('new Stack(app, "NightlyDigests"');
  });

  it("refuses a CommonJS package that holds code, since the project it writes is ES modules, saying what to do", async () => {
    // Prepare
    const folder = emptyFolder();
    writeFileSync(join(folder, "package.json"), JSON.stringify({ type: "commonjs" }));
    writeFileSync(join(folder, "index.js"), "module.exports = {};\n");
    // Act
    const attempt = init([folder]);
    // Assess
    await expect(attempt).rejects.toThrow(
      /package.json says "type": "commonjs".*npm pkg set type=module.*npx stepbatch init my-batches/,
    );
    expect(existsSync(join(folder, "stepbatch.config.ts"))).toBe(false);
  });

  it("takes over what npm init -y wrote: its CommonJS type and its placeholder test script", async () => {
    // Prepare: npm 11's `npm init -y`, then `npm install` of the package
    const folder = emptyFolder();
    writeFileSync(
      join(folder, "package.json"),
      JSON.stringify({
        name: "proj",
        version: "1.0.0",
        type: "commonjs",
        scripts: { test: 'echo "Error: no test specified" && exit 1', lint: "eslint ." },
        dependencies: { stepbatch: "file:../stepbatch-0.1.0.tgz" },
      }),
    );
    writeFileSync(join(folder, "package-lock.json"), "{}\n");
    // Act
    await init([folder]);
    // Assess
    const project = readJson(join(folder, "package.json"));
    expect(project.type).toBe("module");
    expect(project.scripts).toMatchObject({
      test: "node --import tsx --test test/*.test.ts",
      lint: "eslint .",
    });
  });

  it("keeps a test script of the project's own", async () => {
    // Prepare
    const folder = emptyFolder();
    writeFileSync(
      join(folder, "package.json"),
      JSON.stringify({ scripts: { test: "vitest run" } }),
    );
    // Act
    await init([folder]);
    // Assess
    expect(readJson(join(folder, "package.json")).scripts.test).toBe("vitest run");
  });
});

describe("the stepbatch command on an older Node.js", () => {
  it("says it needs Node.js 24 and exits 1", async () => {
    // Prepare: this Node made to report 20.20.2 before the command starts.
    const older =
      'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.20.2"})';
    // Act
    const ran = await promisify(execFile)(process.execPath, [
      "--import",
      older,
      join(PACKAGE_DIR, "bin", "stepbatch.mjs"),
      "--help",
    ]).catch((error: { code: number; stderr: string }) => error);
    // Assess
    expect(ran).toMatchObject({ code: 1 });
    expect((ran as { stderr: string }).stderr).toContain(
      "stepbatch: needs Node.js 24 or later (the Lambda runtime it deploys is nodejs24.x); this is Node.js 20.20.2",
    );
  });
});

describe("the stepbatch command piped into a reader that stops early", () => {
  it("ends quietly with its own exit code, as `stepbatch list | head` expects", async () => {
    // Prepare
    const child = spawn(process.execPath, [join(PACKAGE_DIR, "bin", "stepbatch.mjs"), "--help"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    // Act: the reader goes away before the command writes, as head does once it has its lines.
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    // Assess
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });
});
