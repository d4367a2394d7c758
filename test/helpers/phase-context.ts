// Phases run in memory: stepbatch/testing, as users of the SDK get it.
export { runPhase } from "../../sdk/testing.ts";
