import { randomUUID } from 'node:crypto';
import { getJobDefinition } from './define-job.ts';
import { InvalidArgumentError, JobLockedError, JobNotFoundError } from './errors.ts';
import { type Logger, type LogLevel, resolveLogger } from './logger.ts';
import { prepareJob } from './prepare.ts';
import type { JobStatus } from './status.ts';
import type { Claim, ClaimRequest, ClaimedJob, EnqueueItem, LockContext, Outcome, SettleResult, Store, StoreCapabilities } from './store.ts';
import { type Clock, type EnqueueOptions, type EnqueuedJob, type JobFilter, type JobListOptions, type JobRecord, type NewJob, type QueueStats, type StatusChangeListener, systemClock } from './types.ts';
import type { JobDefinition } from './define-job.ts';

/** Options every store built on `BaseStore` accepts. */
export interface BaseStoreOptions {
  /** Source of time for every timestamp. @default systemClock */
  clock?: Clock;
  /** Where listener errors and store warnings go. @default 'warn' to stderr */
  logger?: Logger | LogLevel;
  /** How long a `withLock` lock survives its holder's process dying; it is refreshed while held. @default 60000 */
  lockTtlMs?: number;
}

/** Result of the `tryLock` primitive. */
export type LockAttempt = 'acquired' | 'locked' | 'missing';

/**
 * A base for stores: implements enqueue validation, listener dispatch, `withLock`
 * and `delete` with cleanup on top of a few primitives, so an adapter writes only
 * what touches its backend.
 */
export abstract class BaseStore implements Store {
  abstract readonly capabilities: StoreCapabilities;
  protected readonly clock: Clock;
  protected readonly logger: Logger;
  protected readonly lockTtlMs: number;
  private listeners: StatusChangeListener[] = [];

  constructor(options: BaseStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.logger = resolveLogger(options.logger);
    this.lockTtlMs = options.lockTtlMs ?? 60_000;
  }

  // ----- primitives an adapter implements ----------------------------------

  /**
   * Inserts validated jobs atomically (all or none), each `queued`, in input order,
   * with `startAt` = now where null. Coalescing: a job whose coalesce id exists
   * already (also earlier in the same batch) is not inserted; the stored one is
   * returned with `coalesced: true`.
   */
  protected abstract insertJobs(jobs: readonly NewJob[]): Promise<EnqueuedJob[]>;
  /** Takes the job's lock for `owner` (re-entrant for the same owner: extends the TTL). */
  protected abstract tryLock(jobId: string, owner: string, ttlMs: number): Promise<LockAttempt>;
  /** Releases the lock if `owner` holds it. */
  protected abstract unlock(jobId: string, owner: string): Promise<void>;
  /** Removes a job's row; false when it did not exist. */
  protected abstract removeJob(jobId: string): Promise<boolean>;

  abstract get(id: string): Promise<JobRecord>;
  abstract getByCoalesceId(coalesceId: string): Promise<JobRecord | null>;
  abstract count(filter?: JobFilter): Promise<number>;
  abstract jobs(options?: JobListOptions): Promise<JobRecord[]>;
  abstract stats(): Promise<QueueStats[]>;
  abstract restart(jobId: string): Promise<JobRecord>;
  abstract detectHungJobs(): Promise<number>;
  abstract close(): Promise<void>;
  abstract claim(request: ClaimRequest): Promise<ClaimedJob[]>;
  abstract settle(claim: Claim, outcome: Outcome, next?: ClaimRequest): Promise<SettleResult>;
  abstract settleWaitAsync(jobId: string, outcome: Outcome): Promise<SettleResult>;
  abstract release(claims: readonly Claim[]): Promise<void>;
  abstract extendLeases(claims: readonly Claim[], leaseMs: number): Promise<string[]>;

  // ----- implemented here ----------------------------------------------------

  async enqueue<P>(type: JobDefinition<P> | string, payload: P, options?: EnqueueOptions): Promise<EnqueuedJob<P>> {
    const prepared = prepareJob(type, payload, options);
    const [job] = await this.insertJobs([prepared]);
    if (!job) throw new Error('store returned no job from insertJobs');
    if (!job.coalesced) this.emitStatusChange(job, 'unqueued', null);
    return job as EnqueuedJob<P>;
  }

  async enqueueMany(items: readonly EnqueueItem[]): Promise<EnqueuedJob[]> {
    if (!Array.isArray(items)) throw new InvalidArgumentError('enqueueMany expects an array of { type, payload, options }');
    const prepared = items.map((item, i) => {
      if (item === null || typeof item !== 'object') throw new InvalidArgumentError(`enqueueMany: item ${i} is not an object`);
      return prepareJob(item.type as JobDefinition<unknown> | string, item.payload, item.options);
    });
    if (prepared.length === 0) return [];
    const jobs = await this.insertJobs(prepared);
    for (const job of jobs) if (!job.coalesced) this.emitStatusChange(job, 'unqueued', null);
    return jobs;
  }

  async withLock<T>(jobId: string, fn: (job: JobRecord, lock: LockContext) => T | Promise<T>): Promise<T> {
    // Ids are strings; anything else cannot name a job (and must not be coerced into one).
    if (typeof jobId !== 'string') throw new JobNotFoundError(String(jobId));
    const owner = randomUUID();
    const got = await this.tryLock(jobId, owner, this.lockTtlMs);
    if (got === 'missing') throw new JobNotFoundError(jobId);
    if (got === 'locked') throw new JobLockedError(jobId);
    const lost = new AbortController();
    // Refresh the lock while fn runs, so a long resolver keeps it but a dead process loses it.
    const refresh = setInterval(() => {
      this.tryLock(jobId, owner, this.lockTtlMs).then(
        (r) => {
          if (r !== 'acquired') lost.abort(new JobLockedError(jobId));
        },
        (err: unknown) => {
          this.logger.warn({ err, jobId }, 'lock refresh failed');
          lost.abort(err);
        },
      );
    }, Math.max(1000, Math.floor(this.lockTtlMs / 3)));
    refresh.unref();
    try {
      const job = await this.get(jobId);
      return await fn(job, { signal: lost.signal });
    } finally {
      clearInterval(refresh);
      await this.unlock(jobId, owner);
    }
  }

  async delete(jobId: string): Promise<void> {
    const job = await this.get(jobId);
    await runCleanup(job, this, this.logger);
    if (!(await this.removeJob(job.id))) throw new JobNotFoundError(jobId);
  }

  onStatusChange(listener: StatusChangeListener): () => void {
    if (typeof listener !== 'function') throw new InvalidArgumentError('onStatusChange expects a function');
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  async waitForWork(_queues: readonly string[] | null, timeoutMs: number, signal?: AbortSignal, _request?: ClaimRequest): Promise<void> {
    await abortableSleep(timeoutMs, signal);
  }

  /** True when a status change would reach anyone (lets hot paths skip building records). */
  protected hasStatusListeners(type: string): boolean {
    return this.listeners.length > 0 || getJobDefinition(type)?.statusDidChange !== undefined;
  }

  /**
   * Reports a status change to the job type's `statusDidChange` and to every
   * listener. A throwing or rejecting listener is logged and never affects the job.
   */
  protected emitStatusChange(job: JobRecord, oldStatus: JobStatus, message: string | null): void {
    const hook = getJobDefinition(job.type)?.statusDidChange;
    const listeners = this.listeners;
    if (!hook && listeners.length === 0) return;
    const call = (fn: (job: JobRecord, old: JobStatus, msg: string | null) => unknown, who: string) => {
      try {
        const r = fn(job, oldStatus, message);
        if (r && typeof (r as Promise<unknown>).then === 'function') {
          (r as Promise<unknown>).then(undefined, (err: unknown) => this.logger.error({ err, jobId: job.id, who }, 'status-change listener failed'));
        }
      } catch (err) {
        this.logger.error({ err, jobId: job.id, who }, 'status-change listener failed');
      }
    };
    if (hook) call(hook as (job: JobRecord, old: JobStatus, msg: string | null) => unknown, `${job.type}.statusDidChange`);
    for (const l of listeners) call(l, 'onStatusChange');
  }

  protected now(): number {
    return this.clock.now();
  }
}

/** Runs a job type's `cleanup` when the type is registered here; errors are logged. */
export async function runCleanup(job: JobRecord, store: Store, logger: Logger, signal?: AbortSignal): Promise<void> {
  const def = getJobDefinition(job.type);
  if (!def?.cleanup) return;
  try {
    await def.cleanup(job.payload as never, { job: job as JobRecord<never>, store, signal: signal ?? new AbortController().signal, logger });
  } catch (err) {
    logger.error({ err, jobId: job.id, type: job.type }, 'cleanup failed');
  }
}

/** Sleeps `ms`, returning early (without error) when `signal` aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
