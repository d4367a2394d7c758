import { phaseHandler } from "../../commons/phase-handler";
import { demoWork } from "../../workload/demo";

/** The Ingest phase of the demo workload. Swap `demoWork` for your own phase code. */
export const handler = phaseHandler(demoWork);
