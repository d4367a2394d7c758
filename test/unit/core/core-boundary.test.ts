import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../../..");
const biome = path.join(root, "node_modules/.bin/biome");

// A copy of the project's lint settings in a folder of its own, so probes never touch the sources.
const sandbox = mkdtempSync(path.join(tmpdir(), "stepbatch-lint-"));
cpSync(path.join(root, "biome.jsonc"), path.join(sandbox, "biome.jsonc"));
writeFileSync(
  path.join(sandbox, "biome.jsonc"),
  readFileSync(path.join(sandbox, "biome.jsonc"), "utf8").replace(
    '"vcs": { "enabled": true',
    '"vcs": { "enabled": false',
  ),
);
afterAll(() => rmSync(sandbox, { recursive: true, force: true }));

/** Lints one file of the core holding `source`; the diagnostics, or "" when it passes. */
function lintCoreFile(name: string, source: string): { passed: boolean; output: string } {
  mkdirSync(path.join(sandbox, "functions/core"), { recursive: true });
  writeFileSync(path.join(sandbox, "functions/core", name), source);
  const run = spawnSync(biome, ["lint", `functions/core/${name}`], {
    cwd: sandbox,
    encoding: "utf8",
  });
  return { passed: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

describe("the lint rule that keeps the core plain TypeScript", () => {
  it("refuses an AWS SDK import in functions/core, saying where it belongs", () => {
    // Act
    const lint = lintCoreFile(
      "uses-dynamodb.ts",
      'import { DynamoDBClient } from "@aws-sdk/client-dynamodb";\n\nexport const client = DynamoDBClient;\n',
    );
    // Assess
    expect(lint.passed).toBe(false);
    expect(lint.output).toContain("noRestrictedImports");
    expect(lint.output).toContain("put this in an adapter");
  });

  it("refuses a deep import of an AWS package, and the CDK", () => {
    // Act
    const lint = lintCoreFile(
      "deep-imports.ts",
      'import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb/dist-cjs/index.js";\nimport { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";\nimport { Stack } from "aws-cdk-lib";\n\nexport const used = [DynamoDBDocumentClient, injectLambdaContext, Stack];\n',
    );
    // Assess
    expect(lint.passed).toBe(false);
    expect(lint.output.match(/put this in an adapter/g)?.length).toBe(3);
  });

  it("refuses Lambda types and an import from the layers around the core", () => {
    // Act
    const lint = lintCoreFile(
      "uses-lambda.ts",
      'import type { Context } from "aws-lambda";\nimport { services } from "../commons/services.ts";\n\nexport type Wired = [Context, typeof services];\n',
    );
    // Assess
    expect(lint.passed).toBe(false);
    expect(lint.output).toContain("depends on nothing around it");
  });

  it("lets the core import zod and its own modules", () => {
    // Act
    const lint = lintCoreFile(
      "plain.ts",
      'import { z } from "zod";\nimport { ERROR_NAMES } from "./errors.ts";\n\nexport const names = [z, ERROR_NAMES];\n',
    );
    // Assess
    expect(lint).toEqual({ passed: true, output: expect.any(String) });
  });
});
