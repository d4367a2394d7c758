import { defineConfig } from "vitest/config";

/** The heavy fault runs (`npm run test:faults`), kept out of `npm test`; CI runs both. */
export default defineConfig({
  test: {
    include: ["test/faults/**/*.faults.ts"],
    environment: "node",
    pool: "forks",
    setupFiles: ["test/helpers/env.ts"],
    // The local stack's functions are the bundles CDK built: Node imports them, as Lambda would.
    server: { deps: { external: [/\/\.stepbatch\/build\/synth\//] } },
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
