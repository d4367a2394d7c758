import { demoPhase } from "./work";

/** The demo's Commit phase. */
export default demoPhase("Commit");
