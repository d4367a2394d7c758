#!/usr/bin/env node
// The `stepbatch` command: registers tsx to run the TypeScript sources, then runs the CLI.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
await main(process.argv);
