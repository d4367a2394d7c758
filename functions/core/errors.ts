/**
 * Named errors. The `name` of each is stable: Step Functions Retry/Catch rules and the HTTP layer
 * match on it, so renaming one is a breaking change. Each is spelled out, never derived from its
 * class: the deployed bundles are minified, and minifying renames classes.
 */

export abstract class StepbatchError extends Error {
  abstract override readonly name: string;
  /** Machine-readable code returned to API callers. */
  abstract readonly code: string;
  readonly details?: Record<string, unknown>;

  constructor(message: string, details?: Record<string, unknown>) {
    super(message);
    if (details) this.details = details;
  }
}

/** Bad input: the message names the problem. */
export class ValidationError extends StepbatchError {
  override readonly name = "Validation";
  readonly code = "VALIDATION_FAILED";
}

export class PayloadTooLargeError extends StepbatchError {
  override readonly name = "PayloadTooLarge";
  readonly code = "PAYLOAD_TOO_LARGE";
}

/** An id that names no batch, whatever its form; `hint` says what a batch id looks like. */
export class BatchNotFoundError extends StepbatchError {
  override readonly name = "BatchNotFound";
  readonly code = "BATCH_NOT_FOUND";
  constructor(batchId: string, hint?: string) {
    super(`Batch ${batchId} not found${hint ? ` (${hint})` : ""}`, { batchId });
  }
}

/** An id that names no job of the batch, whatever its form. */
export class JobNotFoundError extends StepbatchError {
  override readonly name = "JobNotFound";
  readonly code = "JOB_NOT_FOUND";
  constructor(batchId: string, jobId: string, hint?: string) {
    super(`Job ${jobId} not found in batch ${batchId}${hint ? ` (${hint})` : ""}`, {
      batchId,
      jobId,
    });
  }
}

export class JobAlreadyFinishedError extends StepbatchError {
  override readonly name = "JobAlreadyFinished";
  readonly code = "JOB_ALREADY_FINISHED";
}

export class JobInCommitError extends StepbatchError {
  override readonly name = "JobInCommit";
  readonly code = "JOB_IN_COMMIT";
}

export class JobActiveError extends StepbatchError {
  override readonly name = "JobActive";
  readonly code = "JOB_ACTIVE";
}

export class IdempotencyConflictError extends StepbatchError {
  override readonly name = "IdempotencyConflict";
  readonly code = "IDEMPOTENCY_KEY_REUSED";
}

/** Another request with the same Idempotency-Key is still creating its batch. */
export class IdempotencyInProgressError extends StepbatchError {
  override readonly name = "IdempotencyInProgress";
  readonly code = "IDEMPOTENCY_KEY_IN_PROGRESS";
}

export class ExecutionStartError extends StepbatchError {
  override readonly name = "ExecutionStart";
  readonly code = "EXECUTION_START_FAILED";
}

/** A phase's own code threw. Retried by the state machine with backoff. */
export class PhaseFailedError extends StepbatchError {
  override readonly name = "PhaseFailed";
  readonly code = "PHASE_FAILED";
}

/** A job's input does not fit a phase's schema (checked at submit, so only for older batches). Never retried. */
export class PhaseInputInvalidError extends StepbatchError {
  override readonly name = "PhaseInputInvalid";
  readonly code = "PHASE_INPUT_INVALID";
}

/** A phase ran out of its Lambda time; its partial output was saved first. Retried. */
export class PhaseTimeoutError extends StepbatchError {
  override readonly name = "PhaseTimeout";
  readonly code = "PHASE_TIMEOUT";
}

/** Error names the state machine must never retry. */
export const NON_RETRYABLE_ERRORS = ["PhaseInputInvalid", "JobNotFound", "BatchNotFound"] as const;
