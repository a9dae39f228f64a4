import { InvalidArgumentError } from '@jqjobs/core';

/**
 * An autoscaler option (constructor options, a queue's policy, or a config file)
 * is invalid. Thrown before anything runs or is written. `path` names the option,
 * e.g. `queues.email.maxConcurrency`.
 */
export class InvalidAutoscalerConfigError extends InvalidArgumentError {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`Invalid autoscaler option "${path}": ${message}`);
    this.path = path;
  }
}

/** A scaler was asked about a queue it does not route (e.g. a `ChimeraScaler` without that key). */
export class UnknownQueueError extends InvalidArgumentError {
  readonly queue: string;
  constructor(queue: string, where: string) {
    super(`Queue ${JSON.stringify(queue)} is not handled by ${where}`);
    this.queue = queue;
  }
}

/** Stable codes of the errors a scaler driver reports. */
export type ScalerErrorCode = 'JQ_SCALER_UNAVAILABLE' | 'JQ_SCALER_FATAL';

/** Extra facts a driver attaches to a `ScalerError`. */
export interface ScalerErrorDetails {
  cause?: unknown;
  /** The provider, e.g. `heroku` or `aws`. */
  provider?: string;
  /** The HTTP status of the provider's answer, when there was one. */
  status?: number;
  /** The provider's error code, e.g. `Throttling`, `unauthorized`. */
  providerCode?: string;
}

/**
 * Base of the errors a scaler reports for the provider's answers. Drivers throw
 * the two subclasses; the autoscaler never lets them out of its loop.
 *
 * Not a `JQJobsError`: core's error-code union is closed (see the package README).
 */
export class ScalerError extends Error {
  readonly code: ScalerErrorCode;
  /** True when a later tick may succeed (429, 5xx, throttling, a write still in flight). */
  readonly retryable: boolean;
  readonly provider: string | undefined;
  readonly status: number | undefined;
  readonly providerCode: string | undefined;
  constructor(code: ScalerErrorCode, message: string, details: ScalerErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = code === 'JQ_SCALER_UNAVAILABLE';
    this.provider = details.provider;
    this.status = details.status;
    this.providerCode = details.providerCode;
  }
}

/**
 * The provider could not be read or written this time (rate limit, 5xx,
 * throttling, a timeout, the call budget, a write still in flight). The count is
 * *unknown*; the autoscaler changes nothing for the queue and tries again on a
 * later tick.
 */
export class ScalerUnavailableError extends ScalerError {
  constructor(message: string, details: ScalerErrorDetails = {}) {
    super('JQ_SCALER_UNAVAILABLE', message, details);
  }
}

/**
 * The provider refused in a way that retrying will not fix (bad credentials,
 * no permission, no such app / process type / group). The autoscaler disables
 * the queue and logs an error until `autoscaler.enableQueue(queue)` is called.
 */
export class ScalerFatalError extends ScalerError {
  constructor(message: string, details: ScalerErrorDetails = {}) {
    super('JQ_SCALER_FATAL', message, details);
  }
}
