import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PACKAGE_ROOT as PROJECT_ROOT } from "../../infra/paths.ts";
import { readAppModel } from "../../local/template.ts";
import { synthStack } from "../helpers/synth.ts";

describe("the OpenAPI document", () => {
  it("describes exactly the routes the stack deploys", () => {
    // Prepare
    const document = parse(readFileSync(join(PROJECT_ROOT, "docs/openapi.yaml"), "utf8")) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((key) => ["get", "post", "delete", "put", "patch"].includes(key))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    // Act
    const deployed = readAppModel(synthStack().template.toJSON() as any).routes.map(
      (route) => `${route.method} ${route.path}`,
    );
    // Assess
    expect(documented.sort()).toEqual(deployed.sort());
  });
});
