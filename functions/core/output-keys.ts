/**
 * Where outputs live in the output store. Every key is derived from ids, so nothing is ever listed:
 * - `results/<batchId>/<jobId>/<phase>/output.json`: what the phase returned, with its status
 * - `results/<batchId>/<jobId>/<phase>/checkpoint.json`: its last checkpoint
 * - `results/<batchId>/<jobId>/<phase>/items/<n>.json`: the n-th chunk of items it emitted
 * - `manifests/<batchId>.json`: the index of a batch's objects, written when it ends
 * - `consolidated/<batchId>/results.json`: the permanent copy written by consolidate and finalize
 * `results/` is temporary (a lifecycle rule expires it); the other prefixes are kept.
 */
/** The store's areas, each a key prefix; the functions are granted access area by area. */
export const OUTPUT_AREAS = {
  results: "results",
  manifests: "manifests",
  consolidated: "consolidated",
} as const;
export type OutputArea = keyof typeof OUTPUT_AREAS;

export const outputKeys = {
  phasePrefix: (batchId: string, jobId: string, phase: string): string =>
    `${OUTPUT_AREAS.results}/${batchId}/${jobId}/${phase}/`,
  output: (batchId: string, jobId: string, phase: string): string =>
    `${outputKeys.phasePrefix(batchId, jobId, phase)}output.json`,
  checkpoint: (batchId: string, jobId: string, phase: string): string =>
    `${outputKeys.phasePrefix(batchId, jobId, phase)}checkpoint.json`,
  items: (batchId: string, jobId: string, phase: string, chunk: number): string =>
    `${outputKeys.phasePrefix(batchId, jobId, phase)}items/${String(chunk).padStart(6, "0")}.json`,
  manifest: (batchId: string): string => `${OUTPUT_AREAS.manifests}/${batchId}.json`,
  consolidated: (batchId: string): string => `${OUTPUT_AREAS.consolidated}/${batchId}/results.json`,
};

/** The prefix the bucket's lifecycle rule expires: phase outputs, items and checkpoints. */
export const TEMPORARY_PREFIX = `${OUTPUT_AREAS.results}/`;
