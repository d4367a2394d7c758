/**
 * Named errors, and every error and cause name stepbatch writes or matches. Each name is stable:
 * Step Functions Retry/Catch rules, the reconciler and API clients match on it, so renaming one is
 * a breaking change. Each is spelled out, never derived from a class: the deployed bundles are
 * minified, and minifying renames classes.
 */

export const ERROR_NAMES = {
  validation: "Validation",
  payloadTooLarge: "PayloadTooLarge",
  batchNotFound: "BatchNotFound",
  jobNotFound: "JobNotFound",
  cancellationNotFound: "CancellationNotFound",
  jobAlreadyFinished: "JobAlreadyFinished",
  jobInCommit: "JobInCommit",
  jobActive: "JobActive",
  batchNotResumable: "BatchNotResumable",
  idempotencyConflict: "IdempotencyConflict",
  idempotencyInProgress: "IdempotencyInProgress",
  executionStart: "ExecutionStart",
  phaseFailed: "PhaseFailed",
  phaseInputInvalid: "PhaseInputInvalid",
  phaseTimeout: "PhaseTimeout",
  /**
   * What a phase ends with when its job was cancelled: the state machine catches it and ends the
   * job's iteration in "Job cancelled". Not a failure: the errors alarm leaves it out.
   */
  jobCancelled: "JobCancelled",
  /** The error stepbatch stops a batch's execution with; a stop from the console carries another. */
  batchCancelled: "BatchCancelled",
  /** A job still unfinished when its batch's execution ended. */
  jobNotFinished: "JobNotFinished",
  /** A job whose final phase failed after its batch's execution was stopped: no retry comes. */
  stoppedBeforeRetry: "StoppedBeforeRetry",
  /** A saved phase output that cannot be read back. */
  outputUnreadable: "OutputUnreadable",
  /** Step Functions' names: an execution or state past its timeout, a task that failed. */
  statesTimeout: "States.Timeout",
  statesTaskFailed: "States.TaskFailed",
  /** A failed execution whose event names no error. */
  executionFailed: "ExecutionFailed",
} as const;

/**
 * A named error. Like middy's HttpError it carries the HTTP status it is answered with and whether
 * its message may be shown (`expose`), so the API layer needs no table of names.
 */
export abstract class StepbatchError extends Error {
  abstract override readonly name: string;
  /** Machine-readable code returned to API callers. */
  abstract readonly code: string;
  /** The HTTP status an API answers this error with. */
  abstract readonly statusCode: number;
  /** Whether the message is the caller's to read (every 4xx is). */
  get expose(): boolean {
    return this.statusCode < 500;
  }
  readonly details?: Record<string, unknown>;

  constructor(message: string, details?: Record<string, unknown>) {
    super(message);
    if (details) this.details = details;
  }
}

/** Bad input: the message names the problem. */
export class ValidationError extends StepbatchError {
  override readonly name = ERROR_NAMES.validation;
  readonly code = "VALIDATION_FAILED";
  readonly statusCode = 400;
}

export class PayloadTooLargeError extends StepbatchError {
  override readonly name = ERROR_NAMES.payloadTooLarge;
  readonly code = "PAYLOAD_TOO_LARGE";
  readonly statusCode = 413;
}

/** An id that names no batch, whatever its form; `hint` says what a batch id looks like. */
export class BatchNotFoundError extends StepbatchError {
  override readonly name = ERROR_NAMES.batchNotFound;
  readonly code = "BATCH_NOT_FOUND";
  readonly statusCode = 404;
  constructor(batchId: string, hint?: string) {
    super(`Batch ${batchId} not found${hint ? ` (${hint})` : ""}`, { batchId });
  }
}

/** An id that names no job of the batch, whatever its form. */
export class JobNotFoundError extends StepbatchError {
  override readonly name = ERROR_NAMES.jobNotFound;
  readonly code = "JOB_NOT_FOUND";
  readonly statusCode = 404;
  constructor(batchId: string, jobId: string, hint?: string) {
    super(`Job ${jobId} not found in batch ${batchId}${hint ? ` (${hint})` : ""}`, {
      batchId,
      jobId,
    });
  }
}

/** An id that names no cancel of the batch. */
export class CancellationNotFoundError extends StepbatchError {
  override readonly name = ERROR_NAMES.cancellationNotFound;
  readonly code = "CANCELLATION_NOT_FOUND";
  readonly statusCode = 404;
  constructor(batchId: string, cancellationId: string) {
    super(`No cancel ${cancellationId} of batch ${batchId}`, { batchId, cancellationId });
  }
}

export class JobAlreadyFinishedError extends StepbatchError {
  override readonly name = ERROR_NAMES.jobAlreadyFinished;
  readonly code = "JOB_ALREADY_FINISHED";
  readonly statusCode = 409;
}

export class JobInCommitError extends StepbatchError {
  override readonly name = ERROR_NAMES.jobInCommit;
  readonly code = "JOB_IN_COMMIT";
  readonly statusCode = 409;
}

export class JobActiveError extends StepbatchError {
  override readonly name = ERROR_NAMES.jobActive;
  readonly code = "JOB_ACTIVE";
  readonly statusCode = 409;
}

/** A resume the batch cannot take now: it is still running or stopping, or nothing is left to run. */
export class BatchNotResumableError extends StepbatchError {
  override readonly name = ERROR_NAMES.batchNotResumable;
  readonly code = "BATCH_NOT_RESUMABLE";
  readonly statusCode = 409;
}

export class IdempotencyConflictError extends StepbatchError {
  override readonly name = ERROR_NAMES.idempotencyConflict;
  readonly code = "IDEMPOTENCY_KEY_REUSED";
  readonly statusCode = 409;
}

/** Another request with the same Idempotency-Key is still creating its batch. */
export class IdempotencyInProgressError extends StepbatchError {
  override readonly name = ERROR_NAMES.idempotencyInProgress;
  readonly code = "IDEMPOTENCY_KEY_IN_PROGRESS";
  readonly statusCode = 409;
}

/** Step Functions refused to start the batch's execution: the batch is recorded as failed. */
export class ExecutionStartError extends StepbatchError {
  override readonly name = ERROR_NAMES.executionStart;
  readonly code = "EXECUTION_START_FAILED";
  readonly statusCode = 502;
  // The message names what Step Functions answered, and nothing secret: the caller may read it.
  override get expose(): boolean {
    return true;
  }
}

/** A phase's own code threw. Retried by the state machine with backoff. */
export class PhaseFailedError extends StepbatchError {
  override readonly name = ERROR_NAMES.phaseFailed;
  readonly code = "PHASE_FAILED";
  readonly statusCode = 500;
}

/** A job's input does not fit a phase's schema (checked at submit, so only for older batches). Never retried. */
export class PhaseInputInvalidError extends StepbatchError {
  override readonly name = ERROR_NAMES.phaseInputInvalid;
  readonly code = "PHASE_INPUT_INVALID";
  readonly statusCode = 500;
}

/** A phase ran out of its Lambda time; its partial output was saved first. Retried. */
export class PhaseTimeoutError extends StepbatchError {
  override readonly name = ERROR_NAMES.phaseTimeout;
  readonly code = "PHASE_TIMEOUT";
  readonly statusCode = 500;
}

/** Error names the state machine must never retry. */
/**
 * The job was cancelled (before or while this phase ran): its iteration ends here, its later
 * phases never start. Its outputs and the job record are already saved.
 */
export class JobCancelledError extends StepbatchError {
  override readonly name = ERROR_NAMES.jobCancelled;
  readonly code = "JOB_CANCELLED";
  readonly statusCode = 409;
}

/**
 * Counted (namespace and service "stepbatch", no other dimension) each time a phase ends with
 * JobCancelled: Lambda counts those as errors, and the phase functions' errors alarm subtracts them.
 */
export const JOB_CANCELLED_METRIC = "PhaseEndedForCancel";

export const NON_RETRYABLE_ERRORS = [
  ERROR_NAMES.jobCancelled,
  ERROR_NAMES.phaseInputInvalid,
  ERROR_NAMES.jobNotFound,
  ERROR_NAMES.batchNotFound,
] as const;
