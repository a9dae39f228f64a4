import { InvalidArgumentError, JQJobsError, StoreConnectionError } from '@jqjobs/core';

/** A payload is larger than the store's `maxPayloadBytes`. Nothing was stored. */
export class PayloadTooLargeError extends InvalidArgumentError {
  /** Size of the payload's JSON in bytes (UTF-8). */
  readonly bytes: number;
  /** The configured limit. */
  readonly limit: number;
  constructor(bytes: number, limit: number) {
    super(`Payload is ${bytes} bytes of JSON, over the store's maxPayloadBytes limit of ${limit}; nothing was stored`);
    this.bytes = bytes;
    this.limit = limit;
  }
}

/**
 * The reply to a command was lost with its connection: the command may or may not
 * have been applied. The store recovers what it can (claims are handed back); a
 * caller that retries must expect either state.
 */
export class ConnectionLostError extends StoreConnectionError {
  constructor(cause?: unknown) {
    super('The connection to Redis closed while a command was in flight; it may or may not have been applied', { cause });
  }
}

/** Wraps a driver error in a `StoreConnectionError` with the cause attached; JQJobs errors pass through. */
export function wrapRedisError(err: unknown, what: string): Error {
  if (err instanceof JQJobsError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new StoreConnectionError(`Redis ${what} failed: ${msg}`, { cause: err });
}
