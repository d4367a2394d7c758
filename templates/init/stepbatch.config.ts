import { definePipeline, sum } from "stepbatch";
import { z } from "zod";

/**
 * Your pipeline: the phases every job runs, in order. The CDK app (infra/app.ts) deploys it;
 * `npx stepbatch dev` runs it on this machine. Phase entries are relative to this file.
 */
export default definePipeline({
  name: "my-batches",
  phases: [
    { name: "Fetch", entry: "phases/fetch.ts", timeoutSeconds: 300 },
    { name: "Publish", entry: "phases/publish.ts", timeoutSeconds: 60 },
  ],
  // Every job's input, checked when a batch is submitted: a bad one is a 400 naming the job.
  input: z.object({ pages: z.number().int().positive().max(100).default(3) }),
  concurrency: 5,
  // The batch's results add up what each job produced so far.
  summary: {
    perJob: ({ items }) => ({ pages: items.Fetch ?? 0 }),
    fields: { pagesFetched: sum("pages") },
  },
});
