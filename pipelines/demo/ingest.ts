import { demoPhase } from "./work.ts";

/** The demo's Ingest phase. */
export default demoPhase("Ingest");
