import { defineConfig } from "vitest/config";
import base from "./vitest.config";

/** The heavy fault runs (`npm run test:faults`), kept out of `npm test`; CI runs both. */
export default defineConfig({
  test: {
    ...base.test,
    include: ["test/faults/**/*.faults.ts"],
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
