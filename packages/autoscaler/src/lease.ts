import { type Clock, JobLockedError, JobNotFoundError, type Store, systemClock } from '@jqjobs/core';

/**
 * "Only one active autoscaler at a time." The autoscaler calls `acquire` at the
 * start of every tick and scales only while it returns true; it calls `release`
 * when it stops. Other instances stay on standby and take over when the holder
 * stops or dies.
 */
export interface AutoscalerLease {
  /**
   * Takes or renews the lease for `owner` for `ttlMs`. Resolves true when `owner`
   * holds it afterwards, false when someone else does. Rejects when it cannot
   * tell (the autoscaler then stays idle for the tick).
   */
  acquire(owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `owner` holds it. Idempotent. */
  release(owner: string): Promise<void>;
}

/**
 * A lease inside one process: autoscalers sharing one `InMemoryLease` exclude
 * each other. Expires after `ttlMs` without a renewal. It does not reach other
 * processes — use `StoreLease` (the default) for that.
 */
export class InMemoryLease implements AutoscalerLease {
  private holder: { owner: string; until: number } | null = null;
  constructor(private readonly clock: Clock = systemClock) {}

  async acquire(owner: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    if (this.holder && this.holder.owner !== owner && this.holder.until > now) return false;
    this.holder = { owner, until: now + ttlMs };
    return true;
  }

  async release(owner: string): Promise<void> {
    if (this.holder?.owner === owner) this.holder = null;
  }
}

/** The queue holding the store lease's sentinel job. No worker should be bound to it; its job is never due anyway. */
export const LEASE_QUEUE = 'jqjobs:autoscaler';
/** Job type of the sentinel job. */
export const LEASE_JOB_TYPE = 'jqjobs:autoscaler-lease';
// Never due, so no worker claims it, and stats() never reports it as waiting.
const NEVER = new Date('9999-12-31T00:00:00.000Z');

/** Options for `StoreLease`. */
export interface StoreLeaseOptions {
  /** Separates independent autoscalers sharing one store (e.g. one per app). @default 'default' */
  name?: string;
}

/**
 * A lease kept in the store, so it holds across processes and hosts: the holder
 * keeps `store.withLock` open on a sentinel job (type `jqjobs:autoscaler-lease`,
 * queue `jqjobs:autoscaler`, coalesce id `jqjobs:autoscaler-lease:<name>`,
 * start date in year 9999 so it is never claimed). `withLock` fails at once with
 * `JobLockedError` for everyone else.
 *
 * The store's own lock TTL governs expiry (`lockTtlMs`, 60 s by default, refreshed
 * while held): when the holder dies, another autoscaler takes over within that
 * time. `ttlMs` given to `acquire` is not used. If the holder loses the store for
 * longer than the TTL, a second autoscaler can become active before the first
 * notices; both then read the same queues and ask for the same counts.
 *
 * The sentinel job stays in the store (it shows in `jobs()`/`stats()` under its
 * queue); deleting it is harmless — the next `acquire` recreates it.
 */
export class StoreLease implements AutoscalerLease {
  private readonly coalesceId: string;
  private sentinelId: string | null = null;
  private held: { owner: string; release: () => void; done: Promise<void> } | null = null;

  constructor(
    private readonly store: Pick<Store, 'enqueue' | 'withLock'>,
    options: StoreLeaseOptions = {},
  ) {
    this.coalesceId = `jqjobs:autoscaler-lease:${options.name ?? 'default'}`;
  }

  async acquire(owner: string): Promise<boolean> {
    if (this.held) return this.held.owner === owner;
    if (this.sentinelId === null) {
      const job = await this.store.enqueue(LEASE_JOB_TYPE, { purpose: 'autoscaler lease' }, {
        queueName: LEASE_QUEUE,
        coalesceId: this.coalesceId,
        deleteOnComplete: false,
        startAt: NEVER,
      });
      this.sentinelId = job.id;
    }
    const jobId = this.sentinelId;
    return new Promise<boolean>((resolve, reject) => {
      let entered = false;
      let release!: () => void;
      const holding = new Promise<void>((r) => (release = r));
      const done = this.store
        .withLock(jobId, async () => {
          entered = true;
          this.held = { owner, release, done };
          resolve(true);
          await holding;
        })
        .then(
          () => {
            if (this.held?.done === done) this.held = null;
          },
          (err: unknown) => {
            if (this.held?.done === done) this.held = null;
            if (entered) return;
            if (err instanceof JobLockedError) return resolve(false);
            if (err instanceof JobNotFoundError) {
              // The sentinel was deleted: recreate it on the next attempt.
              this.sentinelId = null;
              return resolve(false);
            }
            reject(err);
          },
        );
    });
  }

  async release(owner: string): Promise<void> {
    const held = this.held;
    if (!held || held.owner !== owner) return;
    held.release();
    await held.done;
  }
}
