import { JQJobsError, StoreConnectionError } from '@jqjobs/core';

/** A payload is larger than the store's `maxPayloadBytes` (core's error, re-exported). */
export { PayloadTooLargeError } from '@jqjobs/core';

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
