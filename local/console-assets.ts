import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildOptions } from "esbuild";
import { PACKAGE_ROOT } from "../infra/paths.ts";

/** The console's sources (`console/` in the repository), or its bundle (`dist/console/` in the package). */
export const CONSOLE_DIR = join(PACKAGE_ROOT, "console");

/** How the console's page script and styles are bundled: by the package build, or at first use from the sources. */
export const CONSOLE_BUNDLE: BuildOptions = {
  entryPoints: { app: join(CONSOLE_DIR, "main.tsx") },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  minify: true,
  legalComments: "none",
  logLevel: "error",
};

export interface ConsoleAssets {
  readonly js: Buffer;
  readonly css: Buffer;
}

let loading: Promise<ConsoleAssets> | undefined;

/** The installed package's prebuilt bundle, else the sources bundled once, in memory. */
export function consoleAssets(): Promise<ConsoleAssets> {
  loading ??= load().catch((error: unknown) => {
    loading = undefined; // a failed bundle (a syntax error being fixed) is tried again next time
    throw error;
  });
  return loading;
}

async function load(): Promise<ConsoleAssets> {
  const built = join(CONSOLE_DIR, "app.js");
  if (existsSync(built))
    return { js: readFileSync(built), css: readFileSync(join(CONSOLE_DIR, "app.css")) };
  const { build } = await import("esbuild");
  const result = await build({ ...CONSOLE_BUNDLE, outdir: "/console", write: false });
  const file = (extension: string) => {
    const found = result.outputFiles.find((output) => output.path.endsWith(extension));
    if (!found) throw new Error(`the console bundle has no ${extension} file`);
    return Buffer.from(found.contents);
  };
  return { js: file(".js"), css: file(".css") };
}
