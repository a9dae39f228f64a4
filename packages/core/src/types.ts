import type { JobStatus } from './status.ts';

/** Any JSON value: what a payload is made of. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Delay before a retry.
 * - a number: that many milliseconds before every retry;
 * - `{ type: 'fixed', delayMs }`: the same;
 * - `{ type: 'exponential', delayMs, maxDelayMs }`: `delayMs * 2^(attempt-1)`, at most `maxDelayMs`.
 * @default 0 (retry at once)
 */
export type BackoffOption =
  | number
  | { type: 'fixed'; delayMs: number }
  | { type: 'exponential'; delayMs: number; maxDelayMs?: number };

/** Options accepted by `enqueue`, and as defaults in `defineJob({ options })`. */
export interface EnqueueOptions {
  /** The queue; workers can be bound to queues. @default 'default' */
  queueName?: string;
  /** An integer; higher runs first. @default 0 */
  priority?: number;
  /** Attempts before the job is marked failed. A positive integer. @default 1 */
  maxAttempts?: number;
  /** Not run before this time: a `Date`, an ISO-8601 string or epoch milliseconds. @default now */
  startAt?: Date | string | number | null;
  /** A running or wait_async job older than this is hung and is retried. @default null (never hung) */
  maxRuntimeSeconds?: number | null;
  /** Completed jobs are deleted; `false` keeps them with status `completed`. @default true */
  deleteOnComplete?: boolean;
  /** Jobs with the same coalesce id exist at most once in the store. @default from the job type, else null */
  coalesceId?: string | null;
  /** Delay before a retry. @default 0 */
  backoff?: BackoffOption | null;
}

/** The managed-job record: plain data, safe to JSON. */
export interface JobRecord<P = unknown> {
  /** Store-assigned id, unique within the store. */
  id: string;
  /** The job type's name. */
  type: string;
  payload: P;
  queueName: string;
  status: JobStatus;
  priority: number;
  /** 0 before the first attempt; the first attempt is 1. */
  attemptNumber: number;
  maxAttempts: number;
  coalesceId: string | null;
  maxRuntimeSeconds: number | null;
  deleteOnComplete: boolean;
  /** The last error, cleared when an attempt starts. */
  errorMessage: string | null;
  /** The retry delay policy stored with the job. */
  backoff: BackoffOption | null;
  createdAt: Date;
  /** Scheduled start; null after a restart (the job is then due from the moment it was restarted). */
  startAt: Date | null;
  /** Start of the last attempt. */
  startedAt: Date | null;
  endedAt: Date | null;
}

/** What `enqueue` returns: the stored job, and whether an existing job was returned instead of a new one. */
export type EnqueuedJob<P = unknown> = JobRecord<P> & {
  /** True when a job with the same coalesce id already existed; then this is that job, as stored. */
  coalesced: boolean;
};

/** A validated, serialised job ready to be inserted: what `prepareJob` gives a store. */
export interface NewJob {
  type: string;
  payload: unknown;
  /** `JSON.stringify(payload)`, already checked to round-trip. */
  payloadJson: string;
  queueName: string;
  priority: number;
  maxAttempts: number;
  /** null = the store's "now" at insert time. */
  startAt: Date | null;
  maxRuntimeSeconds: number | null;
  deleteOnComplete: boolean;
  coalesceId: string | null;
  backoff: BackoffOption | null;
}

/** Filter for `count` and `jobs`. */
export interface JobFilter {
  queueName?: string;
  status?: JobStatus | readonly JobStatus[];
}

/** Filter and page for `jobs`; jobs come in ascending id order (the order they were enqueued). */
export interface JobListOptions extends JobFilter {
  /** @default 100 */
  limit?: number;
  /** @default 0 */
  offset?: number;
}

/** One queue's numbers, from `stats()`. */
export interface QueueStats {
  queueName: string;
  /** Jobs per status (all six keys present). */
  counts: Record<JobStatus, number>;
  /**
   * Queued jobs whose run time has come: what workers could start now. `counts.queued`
   * also holds jobs scheduled for later; this does not.
   */
  dueCount: number;
  /** Age in ms of the oldest queued job that is due (now minus its run time), null when none is due. */
  oldestQueuedAgeMs: number | null;
}

/** A source of time. Stores take every timestamp they write or compare from it. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A status-change listener (`store.onStatusChange`). `message` holds the error text for a failure. */
export type StatusChangeListener = (job: JobRecord, oldStatus: JobStatus, message: string | null) => void | Promise<void>;
