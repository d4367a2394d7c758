import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createBuildDir, synthRoot } from "../../local/build.ts";

const projectRoot = mkdtempSync(join(tmpdir(), "stepbatch-build-"));
afterAll(() => rmSync(projectRoot, { recursive: true, force: true }));

describe("the local stack's build folders", () => {
  it("are created under the project, one per start, and those of stacks whose process is gone are removed", () => {
    // Prepare: a folder left by a process that has ended, and one of a process still running.
    const ended = spawnSync(process.execPath, ["-e", ""]).pid;
    const left = join(synthRoot(projectRoot), `${ended}-0badf00d`);
    const running = join(synthRoot(projectRoot), `${process.ppid}-600dcafe`);
    for (const dir of [left, running]) mkdirSync(dir, { recursive: true });
    // Act
    const first = createBuildDir(projectRoot);
    const second = createBuildDir(projectRoot);
    // Assess
    expect(first).not.toBe(second);
    expect(basename(first)).toMatch(new RegExp(`^${process.pid}-[0-9a-f]{8}$`));
    expect(existsSync(left)).toBe(false);
    expect(readdirSync(synthRoot(projectRoot)).sort()).toEqual(
      [basename(running), basename(first), basename(second)].sort(),
    );
  });
});
