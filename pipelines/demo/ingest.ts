import { demoPhase } from "./work";

/** The demo's Ingest phase. */
export default demoPhase("Ingest");
