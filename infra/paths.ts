import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(import.meta.url);

/**
 * Where stepbatch's own modules are: the repository's root when it runs from its TypeScript
 * sources, the package's `dist/` folder when it is installed and runs compiled.
 */
export const PACKAGE_ROOT = path.resolve(path.dirname(HERE), "..");

/** `.ts` from the sources, `.js` when compiled: the extension of stepbatch's own modules. */
const MODULE_EXTENSION = path.extname(HERE);

/** The package's own folder, where its package.json and templates are (dist/'s parent when compiled). */
export const PACKAGE_DIR = MODULE_EXTENSION === ".js" ? path.dirname(PACKAGE_ROOT) : PACKAGE_ROOT;

/** The absolute path of one of stepbatch's own modules, e.g. `functions/handlers/api/get-batch.ts`. */
export function packageModule(relative: string): string {
  return path.join(PACKAGE_ROOT, relative.replace(/\.ts$/, MODULE_EXTENSION));
}

/** Lock files, in the order CDK's NodejsFunction looks for them. */
const LOCK_FILES = ["package-lock.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb", "bun.lock"];

/**
 * A user's project: the nearest folder at or above `from` with a package.json (where `.stepbatch/`
 * is kept), and the nearest lock file at or above that (a workspace's may sit higher), which
 * Lambda bundles are built against. Without a package.json, `from` itself.
 */
export function projectRootOf(from: string): { root: string; lockFile?: string } {
  const start = path.resolve(from);
  let root: string | undefined;
  for (let dir = start; ; dir = path.dirname(dir)) {
    root ??= existsSync(path.join(dir, "package.json")) ? dir : undefined;
    for (const name of LOCK_FILES) {
      const lockFile = path.join(dir, name);
      if (existsSync(lockFile)) return { root: root ?? dir, lockFile };
    }
    if (path.dirname(dir) === dir) return { root: root ?? start };
  }
}
