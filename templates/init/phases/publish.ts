import { definePhase } from "stepbatch";

/**
 * The last phase publishes: a cancel never interrupts it (it runs to completion or does not
 * start), so what it writes is never half done.
 */
export default definePhase({
  name: "Publish",
  async run(ctx) {
    const fetched = ctx.outputOf<{ pagesFetched: number }>("Fetch");
    ctx.log.info("publishing", { pages: fetched.pagesFetched });
    return { published: true, pages: fetched.pagesFetched };
  },
});
