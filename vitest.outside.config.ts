import { defineConfig } from "vitest/config";

/**
 * The test from the outside (`npm run test:outside`): the packed package installed into a project
 * of its own, as a user would. Kept out of `npm test` (it packs and installs); CI runs it.
 */
export default defineConfig({
  test: {
    include: ["test/outside/**/*.outside.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
