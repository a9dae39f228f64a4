import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@jqjobs/core';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Checks a schema or table name. Names are interpolated into SQL (PostgreSQL
 * cannot bind identifiers), so only plain identifiers are accepted; they are
 * still double-quoted, so case is kept.
 */
export function validateIdentifier(value: unknown, what: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new InvalidArgumentError(`PostgresStore: ${what} must match ${IDENTIFIER} (letters, digits, underscore; at most 63 characters), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Table names get suffixes (`_claim_idx`, `_migrations`) that must still fit PostgreSQL's 63-byte limit. */
export function validateTableName(value: unknown): string {
  const name = validateIdentifier(value, 'table');
  if (name.length > 48) throw new InvalidArgumentError(`PostgresStore: table must be at most 48 characters (index names are derived from it), got ${JSON.stringify(name)}`);
  return name;
}

export function quoteIdent(name: string): string {
  return `"${name}"`;
}

/** A stable 64-bit advisory-lock key (as a decimal string) for a name. */
export function advisoryKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}

/** The NOTIFY channel of a jobs table: short, unique per schema.table, a plain identifier. */
export function channelName(schema: string, table: string): string {
  return `jqjobs_${createHash('sha256').update(`${schema}.${table}`).digest('hex').slice(0, 16)}`;
}

const MAX_BIGINT = 9223372036854775807n;

/** Normalises a job id; null when it cannot be an id of this store (so callers answer JobNotFoundError, never a SQL error). */
export function parseJobId(id: unknown): string | null {
  if (typeof id === 'number') {
    if (!Number.isSafeInteger(id) || id < 1) return null;
    return String(id);
  }
  if (typeof id !== 'string' || !/^[1-9][0-9]{0,18}$/.test(id)) return null;
  return BigInt(id) <= MAX_BIGINT ? id : null;
}

/** A claim token: `<job id>:<claim counter>`, unique across jobs and never reused for one job. */
export function makeToken(jobId: string, seq: number): string {
  return `${jobId}:${seq}`;
}

/** The claim counter inside a token issued for `jobId`; null for anything else. */
export function parseToken(jobId: string, token: unknown): number | null {
  if (typeof token !== 'string' || !token.startsWith(`${jobId}:`)) return null;
  const rest = token.slice(jobId.length + 1);
  if (!/^(0|[1-9][0-9]{0,9})$/.test(rest)) return null;
  const n = Number(rest);
  return n <= 2147483647 ? n : null;
}
