import { type DemoOutput, demoInput } from "./pipelines/demo/work.ts";
import { definePipeline, ratio, sum } from "./sdk/index.ts";

/**
 * The demo pipeline: deterministic, no network. Each job runs Ingest, Digest and Commit over
 * `pages` pages; the batch's results sum the pages and average their scores.
 */
export default definePipeline({
  name: "demo",
  phases: [
    { name: "Ingest", entry: "pipelines/demo/ingest.ts" },
    { name: "Digest", entry: "pipelines/demo/digest.ts" },
    { name: "Commit", entry: "pipelines/demo/commit.ts" },
  ],
  input: demoInput,
  summary: {
    perJob: ({ outputs }) => {
      const done = Object.values(outputs) as (DemoOutput | null)[];
      return {
        pages: done.reduce((total, output) => total + (output?.pages ?? 0), 0),
        scoreSum: done.reduce((total, output) => total + (output?.scoreSum ?? 0), 0),
      };
    },
    fields: { pagesProcessed: sum("pages"), averageScore: ratio("scoreSum", "pages") },
  },
  // Deployed as EventBridge Scheduler schedules; on the local stack: npx stepbatch run-schedule <name>.
  schedules: [
    {
      name: "nightly-tickers",
      description: "Digest the bank tickers every night",
      expression: "cron(0 2 * * ? *)",
      timezone: "America/Toronto",
      enabled: false,
      batch: {
        name: "nightly tickers",
        jobs: ["RY.TO", "TD.TO", "BNS.TO", "BMO.TO", "CM.TO"],
        concurrency: 5,
      },
    },
  ],
});
