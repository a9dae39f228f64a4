import { JQJobsError, StoreConnectionError, StoreError } from '@jqjobs/core';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/** SQLSTATEs meaning the server went away or will not take us now. */
function isConnectionState(code: string): boolean {
  return (
    code.startsWith('08') || // connection exception
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now
    code === '53300' || // too_many_connections
    code === '3D000' || // database does not exist
    code.startsWith('28') // authorization
  );
}

/** True when retrying later may succeed: the database was unreachable, not the statement wrong. */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || isConnectionState(code))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(err.message);
}

/**
 * Turns a driver error into a `StoreError` (`StoreConnectionError` when the server cannot be reached) with the driver's error as
 * `cause` (JQJobs errors pass through). A missing table gets a hint to migrate.
 */
export function wrapPgError(err: unknown, op: string, table: string): Error {
  if (err instanceof JQJobsError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  if (code === '42P01' || code === '3F000') {
    return new StoreError(`PostgresStore.${op}: ${table} does not exist — run \`await store.migrate()\` first (${e.message})`, { cause: e });
  }
  if (isConnectionFailure(e)) {
    return new StoreConnectionError(`PostgresStore.${op}: cannot reach PostgreSQL: ${e.message}`, { cause: e });
  }
  return new StoreError(`PostgresStore.${op}: database error${typeof code === 'string' ? ` ${code}` : ''}: ${e.message}`, { cause: e });
}
