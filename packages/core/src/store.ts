/**
 * The store contract.
 *
 * A store persists managed jobs and hands them to workers. This file is the
 * specification an adapter author implements; `@jqjobs/store-test-suite` checks
 * every rule written here against a real instance. Most adapters extend
 * `BaseStore`, which implements the user-facing sugar (enqueue validation,
 * listeners, `withLock`) on top of the primitives marked *primitive* below.
 *
 * Time: every timestamp a store writes or compares comes from its `Clock`
 * (epoch milliseconds; `systemClock` by default), so tests can move time and all
 * processes agree when their hosts are NTP-synced. Durations in this contract are
 * milliseconds unless the name says seconds.
 *
 * Ownership: a successful `claim` hands the job to exactly one caller together
 * with a `token`. Only the holder of the current token may settle the job
 * (`settle`, `release`, `extendLeases`); every settle is conditional on the token,
 * so a late result from a run whose job was retried by hung-job detection or
 * restarted meanwhile changes nothing (`applied: false`).
 *
 * Events: a store reports each status change it makes to its own
 * `onStatusChange` listeners and the job type's `statusDidChange` hook, in the
 * process that made the change (stores do not broadcast events to other
 * processes). `BaseStore.emitStatusChange` does both and isolates errors.
 *
 * Run time: a queued job's *run time* is its `startAt`; a restarted job (whose
 * `startAt` is null) counts from the moment of the restart, a retried one from
 * now + its backoff (and `startAt` shows that time). Jobs whose run time is in the
 * future are never claimed. Stores keep the run time in an internal field.
 *
 * What the contract leaves out: job history beyond the record, cross-process
 * events, and fairness between queues when a worker polls several (a claim over
 * several queues takes the best job across them by the global order).
 */
import type { JobRecord, EnqueueOptions, EnqueuedJob, JobFilter, JobListOptions, NewJob, QueueStats, StatusChangeListener } from './types.ts';
import type { JobDefinition } from './define-job.ts';
import type { JobStatus } from './status.ts';

/** One item of `enqueueMany`. Payloads are checked at run time like `enqueue`'s. */
export interface EnqueueItem {
  /** A job definition (of any payload type) or a type name. */
  type: JobDefinition<never> | string;
  payload: unknown;
  options?: EnqueueOptions;
}

/** What a worker asks for when it claims. */
export interface ClaimRequest {
  /** The claiming worker's id, recorded on the job for the admin tool and logs. */
  workerId: string;
  /** Queues to take from; `null` means every queue. */
  queues: readonly string[] | null;
  /** At most this many jobs (≥ 1). */
  limit: number;
  /** The claim's lease: a running job whose lease is not extended within this time is hung. */
  leaseMs: number;
}

/** Proof of ownership of one claimed job. */
export interface Claim {
  jobId: string;
  /** Opaque, unique per claim; never reused for the same job. */
  token: string;
}

/** A claimed job: the record (status `running`) and the claim that owns it. */
export interface ClaimedJob {
  job: JobRecord;
  claim: Claim;
  /**
   * Set when the stored payload could not be decoded (`job.payload` is then null):
   * the worker fails the job with a message naming its type instead of getting stuck.
   */
  payloadError?: string;
}

/**
 * The disposition a worker (or a wait-async resolver) applies to a job.
 * - `completed`: status completed, `endedAt` now; with `delete` the job is removed
 *   in the same atomic step (the event is still reported, with status `completed`).
 * - `wait_async`: parked; the claim ends, the job keeps no lease (only
 *   `maxRuntimeSeconds` makes a parked job hung).
 * - `queued`: a retry; `errorMessage` = `error`, `startAt` = now + `delayMs`,
 *   `maxAttempts` set to the given value (callers raise it for a mulligan).
 * - `failed`: `errorMessage` = `error`, `endedAt` now; `maxAttempts` updated when given.
 */
export type Outcome =
  | { status: 'completed'; delete: boolean }
  | { status: 'wait_async' }
  | { status: 'queued'; error: string; delayMs: number; maxAttempts: number }
  | { status: 'failed'; error: string; maxAttempts?: number };

/** What `settle` and `settleWaitAsync` return. */
export interface SettleResult {
  /** False when the guard did not hold (claim lost, or the job is not in the expected status): nothing changed. */
  applied: boolean;
  /** The job after the change (status `completed` for a deleted job), or as it is now when not applied; null when it no longer exists. */
  job: JobRecord | null;
  /** Jobs claimed in the same round trip when `next` was given (possibly empty). */
  next: ClaimedJob[];
}

/** Passed to a `withLock` callback. */
export interface LockContext {
  /** Aborted when the lock is lost while `fn` runs (its refresh failed or another holder took it after expiry). */
  signal: AbortSignal;
}

/** Optional abilities a store declares so core and the kit adapt to it. */
export interface StoreCapabilities {
  /** `waitForWork` returns as soon as a job becomes available (NOTIFY, blocking pop), not only on timeout. */
  pushWakeups: boolean;
  /** Several processes can share the store (a database), so multi-process claims apply. */
  sharedAcrossProcesses: boolean;
  /** Jobs survive the process. */
  durable: boolean;
}

/**
 * The interface every store implements. User-facing methods first, then the
 * primitives a `Worker` uses.
 */
export interface Store {
  readonly capabilities: StoreCapabilities;

  // ----- user-facing ---------------------------------------------------------

  /**
   * Validates and stores one job (status `queued`). With a coalesce id that a job
   * in the store already has (any status), stores nothing and returns that job as
   * stored, with `coalesced: true`. Atomic across processes: N concurrent enqueues
   * of one coalesce id create one job.
   * @throws InvalidJobOptionsError | PayloadNotSerializableError — nothing stored.
   */
  enqueue<P>(type: JobDefinition<P> | string, payload: P, options?: EnqueueOptions): Promise<EnqueuedJob<P>>;

  /** All or nothing: one invalid item rejects the batch and stores none. Results are in input order. */
  enqueueMany(items: readonly EnqueueItem[]): Promise<EnqueuedJob[]>;

  /** @throws JobNotFoundError for an unknown id (including ids that are not ids at all). */
  get(id: string): Promise<JobRecord>;

  /** The job holding this coalesce id, or null. */
  getByCoalesceId(coalesceId: string): Promise<JobRecord | null>;

  count(filter?: JobFilter): Promise<number>;

  /** Jobs in ascending id order, so paging with `offset` neither repeats nor skips. */
  jobs(options?: JobListOptions): Promise<JobRecord[]>;

  /** Per queue: counts by status and the age of the oldest due queued job; one round trip. */
  stats(): Promise<QueueStats[]>;

  /**
   * Runs `fn(job)` holding an exclusive, advisory lock on the job and returns its
   * result (errors from `fn` are rethrown as they are). The lock is released on
   * every path. Locks exclude other lock holders only (claims and settles ignore
   * them); a second `withLock` on the same job, even from the same store instance,
   * is another holder.
   * @throws JobNotFoundError — no lock is left behind. JobLockedError — at once, no waiting.
   */
  withLock<T>(jobId: string, fn: (job: JobRecord, lock: LockContext) => T | Promise<T>): Promise<T>;

  /** From any status: attempt 0, `startAt`/`startedAt`/`endedAt` null, `errorMessage` null, status `queued`. Ends any claim. */
  restart(jobId: string): Promise<JobRecord>;

  /** Removes the job, running its type's `cleanup` first when the type is known here. @throws JobNotFoundError */
  delete(jobId: string): Promise<void>;

  /**
   * Retries with mulligan every `running`/`wait_async` job whose `startedAt` is
   * strictly more than `maxRuntimeSeconds` ago, and every `running` job whose
   * lease has expired. Reads only running/parked jobs, never the whole table.
   * @returns how many jobs it retried (re-queued, or failed when out of attempts).
   */
  detectHungJobs(): Promise<number>;

  /** Adds a status-change listener; returns a function that removes it. */
  onStatusChange(listener: StatusChangeListener): () => void;

  /** Releases the store's own resources (never a client the user passed in). Idempotent. */
  close(): Promise<void>;

  // ----- primitives for workers ----------------------------------------------

  /**
   * Atomically takes up to `limit` due `queued` jobs in order — highest priority,
   * then earliest run time, then enqueue order (ascending id) — and marks them
   * `running`: attempt + 1, `startedAt` now, `endedAt` and `errorMessage` cleared,
   * lease until now + `leaseMs`. Exclusive across all callers and processes.
   * Returning fewer than `limit` tells the Worker that nothing else was claimable, so
   * its free slots wait for work: a store that may return fewer for another reason
   * (a cap on one statement, say) makes its next `waitForWork` return at once.
   */
  claim(request: ClaimRequest): Promise<ClaimedJob[]>;

  /**
   * Applies `outcome` if `claim` still owns the job (status `running`), else does
   * nothing (`applied: false`). When `next` is given, claims more work in the same
   * round trip where the store can (otherwise it calls `claim`). That claim comes
   * after the settle, so a job the settle put back as due now can be claimed, and, as
   * for `claim`, returning fewer than `next.limit` means nothing else was claimable.
   */
  settle(claim: Claim, outcome: Outcome, next?: ClaimRequest): Promise<SettleResult>;

  /**
   * Applies `outcome` to a job that is `wait_async`, for `resolveWaitAsyncJob`
   * (which holds the job's lock). `applied: false` with the current job when it is
   * in another status. @throws JobNotFoundError
   */
  settleWaitAsync(jobId: string, outcome: Outcome): Promise<SettleResult>;

  /** Hands claims back untouched: status `queued`, attempt number as before the claim. Lost claims are ignored. */
  release(claims: readonly Claim[]): Promise<void>;

  /** Extends the leases of claims still held to now + `leaseMs`; returns the job ids of claims that are lost. */
  extendLeases(claims: readonly Claim[], leaseMs: number): Promise<string[]>;

  /**
   * Resolves when a job may be available in one of `queues` (null = any), or after
   * `timeoutMs`, or when `signal` aborts — whichever is first. Never rejects for a
   * timeout. Stores without push wake-ups simply sleep. `request` is the claim the
   * worker will make when woken, for stores that hand a job over with the wake-up.
   */
  waitForWork(queues: readonly string[] | null, timeoutMs: number, signal?: AbortSignal, request?: ClaimRequest): Promise<void>;
}

export type { JobRecord, NewJob, JobStatus };
