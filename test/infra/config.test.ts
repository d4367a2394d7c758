import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, describe, expect, it } from "vitest";
import { PACKAGE_ROOT } from "../../infra/paths.ts";
import { findConfig, generateEntry, loadPipeline } from "../../infra/pipeline.ts";
import { Stepbatch } from "../../infra/stepbatch.ts";

const projects: string[] = [];
afterAll(() => {
  for (const root of projects) rmSync(root, { recursive: true, force: true });
});

/** A project of a user's in this repository's .stepbatch/ (so its imports of the SDK resolve). */
function userProject(files: Record<string, string>): string {
  mkdirSync(join(PACKAGE_ROOT, ".stepbatch"), { recursive: true });
  const root = mkdtempSync(join(PACKAGE_ROOT, ".stepbatch", "test-project-"));
  projects.push(root);
  writeFileSync(join(root, "package-lock.json"), "{}");
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(root, file, ".."), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return root;
}

const SDK = JSON.stringify(join(PACKAGE_ROOT, "sdk", "index.ts"));
const PHASE = `import { definePhase } from ${SDK};\nexport default definePhase({ name: "Count", async run() { return 1; } });\n`;
const CONFIG = `import { definePipeline } from ${SDK};
export default definePipeline({
  name: "counting",
  phases: [{ name: "Count", entry: "phases/count.ts", memoryMb: 256 }],
  schedules: [{ name: "hourly", expression: "rate(1 hour)", batch: { jobs: ["a"] } }],
});
`;

describe("a pipeline's config file", () => {
  it("is found in the current folder by any of its names (here stepbatch.config.mjs)", () => {
    // Prepare
    const root = userProject({ "stepbatch.config.mjs": CONFIG, "phases/count.ts": PHASE });
    // Act
    const found = findConfig(root);
    // Assess
    expect(found).toBe(join(root, "stepbatch.config.mjs"));
  });

  it("is asked for by name, with `npx stepbatch init` offered, when a folder has none", () => {
    // Prepare
    const root = userProject({});
    // Act
    const finding = () => findConfig(root);
    // Assess
    expect(finding).toThrow(`no stepbatch config in ${root}: create stepbatch.config.ts`);
    expect(finding).toThrow("npx stepbatch init");
  });

  it("loads synchronously, TypeScript included, with the project it belongs to", () => {
    // Prepare
    const root = userProject({ "stepbatch.config.ts": CONFIG, "phases/count.ts": PHASE });
    // Act
    const pipeline = loadPipeline(join(root, "stepbatch.config.ts"));
    // Assess
    expect(pipeline.definition.name).toBe("counting");
    expect(pipeline.projectRoot).toBe(root);
    expect(pipeline.lockFile).toBe(join(root, "package-lock.json"));
  });

  it("names a phase whose entry does not exist, and says entries are relative to the config", () => {
    // Prepare
    const root = userProject({ "stepbatch.config.ts": CONFIG });
    // Act
    const loading = () => loadPipeline(join(root, "stepbatch.config.ts"));
    // Assess
    expect(loading).toThrow("phase Count's entry phases/count.ts does not exist");
    expect(loading).toThrow("relative to the config file");
  });

  it("says what to export when the module exports something else", () => {
    // Prepare
    const root = userProject({ "stepbatch.config.ts": "export default { name: 'x' };\n" });
    // Act
    const loading = () => loadPipeline(join(root, "stepbatch.config.ts"));
    // Assess
    expect(loading).toThrow("export default definePipeline({...})");
  });

  it("gives each phase an entry in the project's .stepbatch/build that imports the phase by its path", () => {
    // Prepare
    const root = userProject({ "stepbatch.config.ts": CONFIG, "phases/count.ts": PHASE });
    const pipeline = loadPipeline(join(root, "stepbatch.config.ts"));
    // Act
    const entry = generateEntry(pipeline, "phase", "Count");
    // Assess
    expect(entry.startsWith(join(root, ".stepbatch", "build", "entries"))).toBe(true);
  });
});

describe("the Stepbatch construct in a stack of a user's", () => {
  it("builds the config's phases and schedules, bundled from the user's project", () => {
    // Prepare
    const root = userProject({ "stepbatch.config.ts": CONFIG, "phases/count.ts": PHASE });
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const stack = new Stack(app, "Theirs");
    // Act
    const stepbatch = new Stepbatch(stack, "Batches", {
      config: join(root, "stepbatch.config.ts"),
    });
    const template = Template.fromStack(stack);
    // Assess
    expect(stepbatch.workflow.phaseFunctions).toHaveLength(1);
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: "stepbatch counting pipeline: phase Count",
      MemorySize: 256,
    });
    template.resourceCountIs("AWS::Scheduler::Schedule", 1);
  });

  it("refuses two phase names that differ only by spaces, naming both", () => {
    // Prepare
    const config = `import { definePipeline } from ${SDK};
export default definePipeline({ name: "twins", phases: [
  { name: "Fetch A", entry: "phases/count.ts" },
  { name: "FetchA", entry: "phases/count.ts" },
] });
`;
    const root = userProject({ "stepbatch.config.ts": config, "phases/count.ts": PHASE });
    const stack = new Stack(new App({ context: { "aws:cdk:bundling-stacks": [] } }), "Theirs");
    // Act
    const building = () =>
      new Stepbatch(stack, "Batches", { config: join(root, "stepbatch.config.ts") });
    // Assess
    expect(building).toThrow("phase names 'Fetch A' and 'FetchA' differ only by spaces");
  });

  it("refuses a phase environment that sets a variable stepbatch sets itself", () => {
    // Prepare
    const config = `import { definePipeline } from ${SDK};
export default definePipeline({ name: "clash", phases: [
  { name: "Count", entry: "phases/count.ts", environment: { TABLE_NAME: "mine" } },
] });
`;
    const root = userProject({ "stepbatch.config.ts": config, "phases/count.ts": PHASE });
    const stack = new Stack(new App({ context: { "aws:cdk:bundling-stacks": [] } }), "Theirs");
    // Act
    const building = () =>
      new Stepbatch(stack, "Batches", { config: join(root, "stepbatch.config.ts") });
    // Assess
    expect(building).toThrow(
      "phase 'Count': its environment sets TABLE_NAME, which stepbatch sets itself",
    );
  });
});
