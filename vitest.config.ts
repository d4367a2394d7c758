import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    setupFiles: ["test/helpers/env.ts"],
    // The local stack's functions are the bundles CDK built: Node imports them, as Lambda would.
    server: { deps: { external: [/\/\.stepbatch\/build\/synth\//] } },
  },
});
