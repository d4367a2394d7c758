#!/usr/bin/env node
// The `stepbatch` command. Installed from npm it runs the compiled JavaScript in dist/; in
// stepbatch's own repository it runs the TypeScript sources through tsx (a devDependency there).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const REQUIRED_NODE = 24;
const major = Number(process.versions.node.split(".")[0]);
if (major < REQUIRED_NODE) {
  process.stderr.write(
    `stepbatch: needs Node.js ${REQUIRED_NODE} or later (the Lambda runtime it deploys is nodejs${REQUIRED_NODE}.x); this is Node.js ${process.versions.node}. Install Node.js ${REQUIRED_NODE} (https://nodejs.org) and run it again.\n`,
  );
  process.exit(1);
}

const sources = new URL("../cli/main.ts", import.meta.url);
let main;
if (existsSync(fileURLToPath(sources))) {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import(sources.href));
} else {
  ({ main } = await import("../dist/cli/main.js"));
}
await main(process.argv);
