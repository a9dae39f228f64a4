/** Stable machine-readable codes, one per error class. */
export type JQJobsErrorCode =
  | 'JQ_JOB_NOT_FOUND'
  | 'JQ_JOB_LOCKED'
  | 'JQ_INVALID_STATE_CHANGE'
  | 'JQ_INVALID_STATE'
  | 'JQ_INVALID_JOB_OPTIONS'
  | 'JQ_PAYLOAD_NOT_SERIALIZABLE'
  | 'JQ_PAYLOAD_TOO_LARGE'
  | 'JQ_UNKNOWN_JOB_TYPE'
  | 'JQ_STORE_ERROR'
  | 'JQ_STORE_CONNECTION'
  | 'JQ_STORE_CLOSED'
  | 'JQ_INVALID_ARGUMENT';

/**
 * Base class of every error JQJobs throws on purpose. `code` is stable across
 * releases: core's codes are `JQJobsErrorCode`; other `@jqjobs/*` packages add
 * their own `JQ_*` codes.
 */
export class JQJobsError extends Error {
  readonly code: JQJobsErrorCode | (string & {});
  constructor(code: JQJobsErrorCode | (string & {}), message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** No job with this id (or coalesce id) exists in the store. */
export class JobNotFoundError extends JQJobsError {
  readonly jobId: string;
  constructor(jobId: string) {
    super('JQ_JOB_NOT_FOUND', `Job not found: ${JSON.stringify(jobId)}`);
    this.jobId = jobId;
  }
}

/** Another holder has the job's lock (`withLock`). Thrown at once, never after waiting. */
export class JobLockedError extends JQJobsError {
  readonly jobId: string;
  constructor(jobId: string) {
    super('JQ_JOB_LOCKED', `Job ${jobId} is locked by another holder`);
    this.jobId = jobId;
  }
}

/** A status change that the status machine forbids. The job is left unchanged. */
export class InvalidStateChangeError extends JQJobsError {
  readonly from: string;
  readonly to: string;
  constructor(from: string, to: string, jobId?: string) {
    super('JQ_INVALID_STATE_CHANGE', `Invalid status change ${from} -> ${to}${jobId ? ` for job ${jobId}` : ''}`);
    this.from = from;
    this.to = to;
  }
}

/** The job is not in the status the operation requires; `.status` is the status it has. */
export class InvalidStateError extends JQJobsError {
  readonly status: string;
  readonly jobId: string;
  constructor(jobId: string, status: string, expected: string) {
    super('JQ_INVALID_STATE', `Job ${jobId} is ${status}, expected ${expected}`);
    this.status = status;
    this.jobId = jobId;
  }
}

/** An enqueue option (or a definition's default option) is invalid. Nothing was stored. */
export class InvalidJobOptionsError extends JQJobsError {
  readonly option: string;
  constructor(option: string, message: string) {
    super('JQ_INVALID_JOB_OPTIONS', `Invalid job option "${option}": ${message}`);
    this.option = option;
  }
}

/** The payload does not survive a JSON round trip. Nothing was stored. */
export class PayloadNotSerializableError extends JQJobsError {
  /** Where in the payload the problem is, e.g. `$.user.id`. */
  readonly path: string;
  constructor(path: string, reason: string, options?: { cause?: unknown }) {
    super('JQ_PAYLOAD_NOT_SERIALIZABLE', `Payload is not JSON-serialisable at ${path}: ${reason}`, options);
    this.path = path;
  }
}

/** The payload is larger than the store accepts (e.g. RedisStore's `maxPayloadBytes`). Nothing was stored. */
export class PayloadTooLargeError extends JQJobsError {
  /** Size of the payload's JSON in bytes (UTF-8). */
  readonly bytes: number;
  /** The store's limit. */
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super('JQ_PAYLOAD_TOO_LARGE', `Payload is ${bytes} bytes of JSON, over the store's limit of ${limit}; nothing was stored`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

/** No job definition with this type name is known where it was needed. */
export class UnknownJobTypeError extends JQJobsError {
  readonly type: string;
  constructor(type: string) {
    super('JQ_UNKNOWN_JOB_TYPE', `Unknown job type "${type}"`);
    this.type = type;
  }
}

/** The store's backend refused or failed an operation (a missing table, a constraint, a server error); `cause` has the driver's error. */
export class StoreError extends JQJobsError {
  constructor(message: string, options?: { cause?: unknown; code?: JQJobsErrorCode }) {
    super(options?.code ?? 'JQ_STORE_ERROR', message, options);
  }
}

/** The store could not reach its backend; `cause` has the driver's error. A `StoreError` too. */
export class StoreConnectionError extends StoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, code: 'JQ_STORE_CONNECTION' });
  }
}

/** The store was closed and cannot be used any more. */
export class StoreClosedError extends JQJobsError {
  constructor() {
    super('JQ_STORE_CLOSED', 'The store is closed');
  }
}

/** An argument to a store or worker method is malformed (e.g. a negative limit). */
export class InvalidArgumentError extends JQJobsError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('JQ_INVALID_ARGUMENT', message, options);
  }
}
