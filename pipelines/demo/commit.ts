import { demoPhase } from "./work.ts";

/** The demo's Commit phase. */
export default demoPhase("Commit");
