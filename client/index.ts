/**
 * `stepbatch/client`: the typed client of the stepbatch HTTP API, for your own scripts and services.
 *
 *   const api = new StepbatchClient(resolveConnection());  // the local stack of this project, or
 *   const api = new StepbatchClient({ apiUrl, token });    // a deployed one
 */

export type { BatchQuiesced } from "../functions/core/quiesce.ts";
/** For a webhook receiver: checks the `stepbatch-signature` header of a notice against your secret. */
export {
  SIGNATURE_HEADER as WEBHOOK_SIGNATURE_HEADER,
  verifySignature as verifyWebhookSignature,
} from "../functions/core/webhook.ts";
export { type Connection, MissingTokenError, resolveConnection } from "./connection.ts";
/** Every job's results with every item, a page at a time: `stepbatch results --output` in code. */
export {
  exportResults,
  type JobResult,
  type PhaseError,
  type ResultsHead,
  type ResultsSink,
} from "./results-export.ts";
export {
  type BatchCancelResponse,
  type BatchList,
  type BatchView,
  type CancelOptions,
  type Consolidated,
  DEFAULT_CANCEL_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  type DeletedJob,
  InvalidIdError,
  type JobCancelled,
  type JobFilter,
  type JobOutputView,
  type JobView,
  type Receipt,
  type ResultsView,
  type Resumed,
  type SelectionPreview,
  StepbatchApiError,
  StepbatchClient,
  type StepbatchClientOptions,
  StepbatchConnectionError,
  StepbatchTimeoutError,
  type SubmitBody,
  type SubmitResponse,
  type SubsetCancelResponse,
} from "./stepbatch-client.ts";
