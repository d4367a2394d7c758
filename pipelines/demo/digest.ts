import { demoPhase } from "./work.ts";

/** The demo's Digest phase. */
export default demoPhase("Digest");
