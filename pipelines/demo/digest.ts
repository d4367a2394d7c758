import { demoPhase } from "./work";

/** The demo's Digest phase. */
export default demoPhase("Digest");
