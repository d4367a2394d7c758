import { describe, expect, it } from "vitest";
import { defaultExport } from "../../../functions/commons/default-export.ts";

const pipeline = { kind: "stepbatch.pipeline", name: "words" } as const;

describe("a user's pipeline module", () => {
  it("is found as an ES module's default export", () => {
    expect(defaultExport({ default: pipeline }, "stepbatch.pipeline", "p.ts")).toBe(pipeline);
  });

  it("is found one level down when the project compiles it as CommonJS", () => {
    const commonJs = { default: { __esModule: true, default: pipeline } };
    expect(defaultExport(commonJs, "stepbatch.pipeline", "p.ts")).toBe(pipeline);
  });

  it("is refused, naming the file and what to export, when it exports something else", () => {
    expect(() => defaultExport({ default: { name: "x" } }, "stepbatch.phase", "split.ts")).toThrow(
      "split.ts does not export a phase: export default definePhase({...})",
    );
  });
});
