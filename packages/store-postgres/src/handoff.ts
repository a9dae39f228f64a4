/**
 * Hand-off: an idle worker's wait registers an *offer* (its claim request) in the
 * offers table; the enqueue statement that finds the oldest open matching offer
 * inserts its job already claimed for that worker, marks the offer taken, and puts
 * the job in its one NOTIFY. The listening store stashes the job and ends the wait;
 * the worker's next `claim()` returns it without a round trip. From enqueue to run:
 * one statement and one notification, instead of a notification, then a claim.
 *
 * Failure handling:
 * - An offer is withdrawn (deleted) by its owner when the wait ends; the withdrawal
 *   reports a job the offer was handed, so a hand-off whose notification never came
 *   (a LISTEN connection lost meanwhile) is still found and stashed. A failed
 *   withdrawal is retried until the database answers.
 * - A stashed job the worker does not claim soon (it stopped) goes back to the queue.
 * - A process that dies leaves open offers until their deadline (its wait timeout);
 *   a job handed to one meanwhile is `running` for a dead worker and comes back
 *   through its lease, like any job of a killed worker (hung-job detection).
 */
import { randomBytes } from 'node:crypto';
import { type ClaimRequest, HandoffStash, type Logger } from '@jqjobs/core';
import type { Notifier, WaitHandle } from './notifier.ts';
import { type JobRow, rowToJob } from './rows.ts';
import { JOB_COLUMN_COUNT } from './sql.ts';

/** An offer to register. */
export interface OfferInput {
  id: string;
  workerId: string;
  queues: readonly string[] | null;
  leaseMs: number;
  /** Epoch ms after which enqueues skip it. */
  deadline: number;
}

export interface HandoffDeps {
  logger: Logger;
  notifier: Notifier;
  now(): number;
  /** Withdraws offers, registers one (when given); returns [offer id, handed job id or null] for each withdrawn offer that still existed. */
  offer(offer: OfferInput | null, withdraw: readonly string[], purge: boolean): Promise<[string, string | null][]>;
  /** Job rows (`jobColumns`) by id. */
  fetch(ids: readonly string[]): Promise<unknown[][]>;
  /** Puts claimed jobs back in the queue (status queued, attempt as before the claim). */
  release(jobIds: readonly string[], seq: number): Promise<void>;
  /** Vacuums the offers table. */
  vacuum(): Promise<void>;
}

interface Pending {
  /** Ends the wait the offer belongs to; null once that wait is over. */
  wake: (() => void) | null;
  /** Set when a hand-off arrived (possibly before the wait proper began). */
  handed: boolean;
}

/** A handed job is inserted claimed, so its claim counter is 1. */
export const HANDED_SEQ = 1;
/** A stashed job not claimed within this goes back to the queue. */
const STASH_MAX_AGE_MS = 1000;
/** Withdrawals wait this long for company (or for the next registration, which carries them). */
const WITHDRAW_DELAY_MS = 20;
const PURGE_EVERY_MS = 60_000;
/**
 * Every offer leaves a dead row and a dead index entry behind. Autovacuum looks at
 * a table once a minute at most; until it does, enqueues that look for an offer
 * wade through them (50,000 of them: 3-10 ms per enqueue). So a store vacuums the
 * (small, unlogged) offers table itself after this many offers of its own.
 */
const VACUUM_EVERY_OFFERS = 500;
const VACUUM_MIN_INTERVAL_MS = 2_000;
const MAX_RETRY_MS = 5_000;

export class Handoff {
  private readonly token = randomBytes(6).toString('base64url');
  private seq = 0;
  /** Offers registered (or being registered) and not yet withdrawn or handed. */
  private readonly pending = new Map<string, Pending>();
  private withdrawals: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private failures = 0;
  private readonly stash = new HandoffStash<JobRow>((row) => row.job.queueName);
  private readonly sweep: NodeJS.Timeout;
  private readonly work = new Set<Promise<void>>();
  private lastPurge = 0;
  private offersSinceVacuum = 0;
  private lastVacuum = 0;
  private vacuuming = false;
  private closed = false;

  constructor(private readonly deps: HandoffDeps) {
    this.sweep = setInterval(() => this.sweepStash(), STASH_MAX_AGE_MS / 2);
    this.sweep.unref();
    deps.notifier.onHandoff = (h) => this.onHandoff(h);
    // Withdrawals that failed while the database was away: retry now.
    deps.notifier.onListening = () => {
      if (this.withdrawals.length > 0) this.schedule(0);
    };
  }

  /** Offers open now (for tests and diagnostics). */
  get offers(): number {
    return this.pending.size;
  }

  /** True when a stashed job matches `queues`. */
  has(queues: readonly string[] | null): boolean {
    return this.stash.has(queues);
  }

  /** Takes up to `limit` stashed jobs for `queues`, oldest first. */
  take(queues: readonly string[] | null, limit: number): JobRow[] {
    return this.stash.take(queues, limit);
  }

  /**
   * Waits like `Notifier.wait`, with an offer registered for `request`. Returns when
   * a job was handed over (it is then stashed), on a wake-up, timeout or abort.
   */
  async wait(request: ClaimRequest, workerId: string, timeoutMs: number, since: number | undefined, signal?: AbortSignal): Promise<void> {
    const id = `${this.token}.${(++this.seq).toString(36)}`;
    // Not an AbortController: abort() builds and dispatches an event, a tenth of a millisecond here on the pickup path.
    const handle: WaitHandle = { wake: null };
    const entry: Pending = {
      handed: false,
      wake: () => {
        entry.handed = true;
        handle.wake?.();
      },
    };
    this.pending.set(id, entry);
    const started = Date.now();
    try {
      const withdraw = this.takeWithdrawals();
      const offer: OfferInput = { id, workerId, queues: request.queues, leaseMs: request.leaseMs, deadline: this.deps.now() + timeoutMs };
      try {
        this.withdrawn(await this.deps.offer(offer, withdraw, this.purgeDue()));
        if (++this.offersSinceVacuum >= VACUUM_EVERY_OFFERS) this.vacuum();
      } catch (err) {
        // The offer may exist or not: the withdrawal at the end of this wait settles it.
        this.withdrawals.push(...withdraw);
        this.deps.logger.debug({ err }, 'could not register a wake-up offer; waiting for a notification instead');
      }
      // Registered: a job enqueued from now on is handed to us; one enqueued between
      // our last claim and now was announced, and `since` makes the wait return for it.
      if (!entry.handed) await this.deps.notifier.wait(request.queues, timeoutMs - (Date.now() - started), since, signal, handle);
    } finally {
      entry.wake = null;
    }
    if (this.pending.has(id)) {
      this.withdrawals.push(id);
      // A stopping worker's offer is gone before its wait returns (best effort); otherwise withdraw off the critical path.
      if (signal?.aborted) await this.flush();
      else this.schedule(WITHDRAW_DELAY_MS);
    }
  }

  /** Withdraws every offer, hands stashed jobs back. The store's connections must still be usable. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweep);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const [id, p] of this.pending) {
      p.wake?.();
      if (!this.withdrawals.includes(id)) this.withdrawals.push(id);
    }
    await this.flushing;
    await this.flush();
    await Promise.all([...this.work]);
    const left = this.stash.takeAll();
    if (left.length > 0) await this.giveBack(left);
  }

  private onHandoff(h: unknown[]): void {
    const offerId = h[0];
    if (typeof offerId !== 'string') return;
    const entry = this.pending.get(offerId);
    if (!entry) return; // another store's offer
    this.pending.delete(offerId);
    if (Array.isArray(h[1]) && h[1].length === JOB_COLUMN_COUNT) {
      this.put(rowToJob(h[1]), entry);
    } else if (typeof h[1] === 'string') {
      // The row did not fit in the notification.
      this.recover([h[1]], entry);
    }
    // The used offer row is deleted later, with other withdrawals.
    this.withdrawals.push(offerId);
    this.schedule(WITHDRAW_DELAY_MS);
  }

  /** Results of a withdrawal: offers handed a job whose notification we have not seen. */
  private withdrawn(gone: [string, string | null][]): void {
    const missed: string[] = [];
    for (const [offerId, jobId] of gone) {
      if (!this.pending.delete(offerId) || jobId === null) continue;
      missed.push(jobId);
    }
    if (missed.length > 0) this.recover(missed, null);
  }

  /** Reads handed jobs and stashes them (or gives them back when closing). */
  private recover(jobIds: string[], entry: Pending | null): void {
    const p = this.deps
      .fetch(jobIds)
      .then((rows) => {
        for (const r of rows) {
          const row = rowToJob(r);
          if (row.job.status === 'running' && row.claimSeq === HANDED_SEQ) this.put(row, entry);
        }
      })
      .catch((err: unknown) => this.deps.logger.warn({ err, jobIds }, 'could not read jobs handed to this store; their lease brings them back'))
      .finally(() => this.work.delete(p));
    this.work.add(p);
  }

  private put(row: JobRow, entry: Pending | null): void {
    if (this.closed) {
      void this.giveBack([row]);
      return;
    }
    this.stash.push(row);
    if (entry?.wake) entry.wake();
    // The wait it was meant for is over: wake another one that can take it.
    else this.deps.notifier.announceLocal([{ queue: row.job.queueName, count: 1, runAt: 0 }]);
  }

  private sweepStash(): void {
    const stale = this.stash.takeStale(Date.now() - STASH_MAX_AGE_MS);
    if (stale.length > 0) void this.giveBack(stale);
  }

  private async giveBack(rows: JobRow[]): Promise<void> {
    try {
      await this.deps.release(
        rows.map((r) => r.job.id),
        HANDED_SEQ,
      );
    } catch (err) {
      this.deps.logger.warn({ err }, 'could not hand back jobs handed to a worker that did not take them; their lease brings them back');
    }
  }

  private takeWithdrawals(): string[] {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return this.withdrawals.splice(0);
  }

  private schedule(ms: number): void {
    if (this.timer || this.flushing) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, ms);
    this.timer.unref();
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => (this.withdrawals.length > 0 ? this.flush() : undefined));
    const ids = this.takeWithdrawals();
    if (ids.length === 0) return Promise.resolve();
    this.flushing = this.deps
      .offer(null, ids, this.purgeDue())
      .then(
        (gone) => {
          this.failures = 0;
          this.withdrawn(gone);
        },
        (err: unknown) => {
          this.withdrawals.push(...ids);
          this.failures++;
          if (this.failures === 1) this.deps.logger.warn({ err }, 'could not withdraw wake-up offers; retrying');
        },
      )
      .finally(() => {
        this.flushing = null;
        if (this.withdrawals.length > 0 && !this.closed) this.schedule(this.failures > 0 ? Math.min(100 * 2 ** this.failures, MAX_RETRY_MS) : WITHDRAW_DELAY_MS);
      });
    return this.flushing;
  }

  private vacuum(): void {
    const now = Date.now();
    if (this.vacuuming || this.closed || now - this.lastVacuum < VACUUM_MIN_INTERVAL_MS) return;
    this.vacuuming = true;
    this.lastVacuum = now;
    this.offersSinceVacuum = 0;
    const p = this.deps
      .vacuum()
      .catch((err: unknown) => this.deps.logger.debug({ err }, 'could not vacuum the offers table; autovacuum will'))
      .finally(() => {
        this.vacuuming = false;
        this.work.delete(p);
      });
    this.work.add(p);
  }

  private purgeDue(): boolean {
    const now = Date.now();
    if (now - this.lastPurge < PURGE_EVERY_MS) return false;
    this.lastPurge = now;
    return true;
  }
}
