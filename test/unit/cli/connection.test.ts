import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readJobs } from "../../../cli/jobs-input.ts";
import { MissingTokenError, resolveConnection } from "../../../client/connection.ts";

const localStackDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "stepbatch-conn-"));
  writeFileSync(join(dir, "local.json"), JSON.stringify({ apiUrl: "http://127.0.0.1:4321" }));
  writeFileSync(join(dir, "token"), "local-token\n");
  return dir;
};

describe("finding the API and its token", () => {
  it("prefers explicit values, then STEPBATCH_API_URL/STEPBATCH_TOKEN, then the local stack's files", () => {
    const dir = localStackDir();
    const env = { STEPBATCH_DATA_DIR: dir };
    expect(resolveConnection({}, env)).toMatchObject({
      apiUrl: "http://127.0.0.1:4321",
      token: "local-token",
    });
    expect(
      resolveConnection(
        {},
        { ...env, STEPBATCH_API_URL: "https://x.example/v1/", STEPBATCH_TOKEN: "env" },
      ),
    ).toMatchObject({ apiUrl: "https://x.example/v1", token: "env", source: "STEPBATCH_API_URL" });
    expect(
      resolveConnection(
        { apiUrl: "http://flag", token: "flag" },
        { ...env, STEPBATCH_TOKEN: "env" },
      ),
    ).toMatchObject({ apiUrl: "http://flag", token: "flag" });
  });

  it("falls back to the local stack's default URL, and says where to find a token when there is none", () => {
    const empty = mkdtempSync(join(tmpdir(), "stepbatch-conn-"));
    expect(resolveConnection({}, { STEPBATCH_DATA_DIR: empty, STEPBATCH_TOKEN: "t" }).apiUrl).toBe(
      "http://127.0.0.1:3000",
    );
    expect(() => resolveConnection({}, { STEPBATCH_DATA_DIR: empty })).toThrow(MissingTokenError);
    expect(() => resolveConnection({}, { STEPBATCH_DATA_DIR: empty })).toThrow(
      /pass --token, set STEPBATCH_TOKEN, or start the local stack/,
    );
  });
});

describe("finding the local stack of the project a command runs in", () => {
  it("uses the nearest .stepbatch folder with a token at or above the current folder", () => {
    // Prepare: a project whose local stack is up, and a folder deep inside it.
    const project = mkdtempSync(join(tmpdir(), "stepbatch-project-"));
    mkdirSync(join(project, ".stepbatch"));
    writeFileSync(join(project, ".stepbatch", "token"), "project-token\n");
    writeFileSync(
      join(project, ".stepbatch", "local.json"),
      JSON.stringify({ apiUrl: "http://127.0.0.1:4999" }),
    );
    const deep = join(project, "phases", "ingest");
    mkdirSync(deep, { recursive: true });
    // Act
    const found = resolveConnection({}, {}, deep);
    // Assess
    expect(found).toMatchObject({ apiUrl: "http://127.0.0.1:4999", token: "project-token" });
    expect(found.source).toBe(join(project, ".stepbatch", "local.json"));
  });

  it("names the project's own .stepbatch folder when no local stack has run there yet", () => {
    // Prepare
    const fresh = mkdtempSync(join(tmpdir(), "stepbatch-fresh-"));
    // Act
    const attempt = () => resolveConnection({}, {}, fresh);
    // Assess
    expect(attempt).toThrow(join(fresh, ".stepbatch", "token"));
    expect(attempt).toThrow("npx stepbatch dev");
  });
});

describe("jobs for submit", () => {
  it("applies --input to jobs named on the command line", () => {
    expect(readJobs(["A", "B"], { input: '{"pages":2}' }).jobs).toEqual([
      { name: "A", input: { pages: 2 } },
      { name: "B", input: { pages: 2 } },
    ]);
  });

  it("reads a JSON body or array from stdin, and refuses what it cannot read", () => {
    expect(readJobs([], { file: "-", stdin: () => '["A", {"name":"B"}]' }).jobs).toEqual([
      "A",
      { name: "B" },
    ]);
    expect(
      readJobs([], { file: "-", stdin: () => '{"jobs":["A"],"concurrency":3}' }).body,
    ).toMatchObject({ concurrency: 3 });
    expect(() => readJobs([], { file: "-", stdin: () => "{broken" })).toThrow(
      /stdin is not valid JSON/,
    );
    expect(() => readJobs(["A"], { file: "x" })).toThrow(/not both/);
    expect(() => readJobs([], { file: "/no/such/file" })).toThrow(
      /cannot read \/no\/such\/file: ENOENT/,
    );
    expect(() => readJobs(["A"], { input: "[1]" })).toThrow(/--input must be a JSON object/);
  });
});
