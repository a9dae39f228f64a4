import { InvalidArgumentError } from './errors.ts';
import { ALL_STATUSES, isJobStatus, type JobStatus } from './status.ts';
import type { JobFilter, JobListOptions } from './types.ts';

/** Validates a status filter; returns the list of statuses, or null for "any". */
export function normalizeStatusFilter(status: JobFilter['status']): JobStatus[] | null {
  if (status === undefined) return null;
  const list = typeof status === 'string' ? [status] : status;
  if (!Array.isArray(list)) throw new InvalidArgumentError('status filter must be a status or an array of statuses');
  for (const s of list) {
    if (!isJobStatus(s)) throw new InvalidArgumentError(`unknown status ${JSON.stringify(s)}; expected one of ${ALL_STATUSES.join(', ')}`);
  }
  return [...list];
}

/** Validates `limit` (default 100) and `offset` (default 0) for `jobs()`. */
export function normalizePage(options: JobListOptions): { limit: number; offset: number } {
  const limit = options.limit ?? 100;
  const offset = options.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 0) throw new InvalidArgumentError('limit must be an integer ≥ 0');
  if (!Number.isInteger(offset) || offset < 0) throw new InvalidArgumentError('offset must be an integer ≥ 0');
  return { limit, offset };
}

/** For stores with integer ids: true for a canonical positive integer string that fits a signed 64-bit integer. Anything else cannot be an id, so lookups answer JobNotFoundError without asking the backend. */
export function isCanonicalId(id: unknown): id is string {
  return typeof id === 'string' && /^[1-9][0-9]{0,18}$/.test(id) && (id.length < 19 || BigInt(id) <= MAX_BIGINT);
}

const MAX_BIGINT = 9_223_372_036_854_775_807n;
