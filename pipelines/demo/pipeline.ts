import { definePipeline, ratio, sum } from "../../sdk/index.ts";
import { type DemoOutput, demoInput } from "./work.ts";

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
});
