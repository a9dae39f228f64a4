/** Encoding jobs for statements and decoding rows into records. */
import { type BackoffOption, InvalidJobOptionsError, type JobRecord, type JobStatus, type NewJob } from '@jqjobs/core';
import type { SettleKind } from './sql.ts';

/** A decoded job row: the public record plus the claim counter. */
export interface JobRow {
  job: JobRecord;
  claimSeq: number;
  /** Set when the stored payload could not be decoded (`job.payload` is then null). */
  payloadError?: string;
}

const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(Math.round(v as number)));

/** Reads the columns of `jobColumns` starting at `at`. */
export function rowToJob(r: readonly unknown[], at = 0): JobRow {
  let payload: unknown = null;
  let payloadError: string | undefined;
  try {
    payload = JSON.parse(r[at + 4] as string);
  } catch (err) {
    payloadError = err instanceof Error ? err.message : String(err);
  }
  let backoff: BackoffOption | null = null;
  if (r[at + 9] !== null) {
    try {
      backoff = JSON.parse(r[at + 9] as string) as BackoffOption;
    } catch {
      backoff = null;
    }
  }
  const job: JobRecord = {
    id: r[at] as string,
    type: r[at + 1] as string,
    payload,
    queueName: r[at + 2] as string,
    status: r[at + 15] as JobStatus,
    priority: r[at + 3] as number,
    attemptNumber: r[at + 16] as number,
    maxAttempts: r[at + 5] as number,
    coalesceId: r[at + 7] as string | null,
    maxRuntimeSeconds: r[at + 8] as number | null,
    deleteOnComplete: r[at + 6] as boolean,
    errorMessage: r[at + 14] as string | null,
    backoff,
    createdAt: date(r[at + 10])!,
    startAt: date(r[at + 11]),
    startedAt: date(r[at + 12]),
    endedAt: date(r[at + 13]),
  };
  const row: JobRow = { job, claimSeq: r[at + 17] as number };
  if (payloadError !== undefined) row.payloadError = payloadError;
  return row;
}

// With the u flag a valid pair is one code point, so these match only unpaired halves.
const LONE_SURROGATE = /\p{Surrogate}/u;
const LONE_SURROGATES = /\p{Surrogate}/gu;

/**
 * PostgreSQL text cannot hold NUL, and pg would silently replace lone UTF-16
 * surrogates; refuse both at enqueue instead of storing something else.
 */
export function checkStoredText(value: string | null, option: string): void {
  if (value === null) return;
  if (value.includes('\u0000')) throw new InvalidJobOptionsError(option, 'must not contain NUL characters (PostgreSQL text cannot store them)');
  if (LONE_SURROGATE.test(value)) throw new InvalidJobOptionsError(option, 'must be well-formed Unicode (it contains a lone surrogate)');
}

/** Makes arbitrary text (error messages, worker ids) storable: NUL and lone surrogates become U+FFFD. */
export function storableText(value: string): string {
  const s = value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
  return LONE_SURROGATE.test(s) ? s.replace(LONE_SURROGATES, '\uFFFD') : s;
}

/**
 * The JSON array `json_to_recordset` reads in inserts. Payloads travel as JSON
 * strings (cast to json in SQL): PostgreSQL's JSON parser refuses \u0000 and lone
 * surrogate escapes anywhere it de-escapes, and as a string the payload's own
 * escapes are left alone.
 */
export function encodeNewJobs(jobs: readonly NewJob[]): string {
  const parts: string[] = new Array(jobs.length);
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i]!;
    parts[i] =
      `{"t":${JSON.stringify(j.type)},"q":${JSON.stringify(j.queueName)},"pr":${j.priority},"p":${JSON.stringify(j.payloadJson)},"ma":${j.maxAttempts},` +
      `"doc":${j.deleteOnComplete},"c":${j.coalesceId === null ? 'null' : JSON.stringify(j.coalesceId)},` +
      `"mr":${j.maxRuntimeSeconds === null ? 'null' : j.maxRuntimeSeconds},"b":${j.backoff === null ? 'null' : JSON.stringify(j.backoff)},` +
      `"sa":${j.startAt === null ? 'null' : j.startAt.getTime()}}`;
  }
  return `[${parts.join(',')}]`;
}

/** One settle for the `work` statement. */
export interface SettleInput {
  id: string;
  seq: number;
  kind: SettleKind;
  error: string | null;
  delayMs: number;
  maxAttempts: number | null;
}

export function encodeSettles(settles: readonly SettleInput[]): string {
  return JSON.stringify(settles.map((s) => ({ i: s.id, s: s.seq, k: s.kind, e: s.error, d: s.delayMs, m: s.maxAttempts })));
}

