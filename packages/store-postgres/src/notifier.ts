/**
 * Wake-ups for idle workers: one LISTEN connection per store, and in-process
 * waiters that a notification resolves — at most as many as it announces jobs.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '@jqjobs/core';
import type pg from 'pg';

interface Waiter {
  queues: ReadonlySet<string> | null;
  resolve: () => void;
}

/** One announced batch: jobs in `queue`, the earliest due at `runAt` (epoch ms). */
interface Announcement {
  queue: string | null;
  count: number;
  runAt: number;
}

/** Lets the caller of `wait` end that wait (cheaper than an AbortSignal, whose abort builds and dispatches an event). */
export interface WaitHandle {
  /** Ends the wait; set while it is in progress. */
  wake: (() => void) | null;
}

const MAX_RECONNECT_MS = 5_000;
/** How often the LISTEN connection is checked: a connection that silently died would otherwise only be noticed by TCP keepalive. */
const LIVENESS_MS = 30_000;

export class Notifier {
  private waiters = new Set<Waiter>();
  private client: pg.PoolClient | null = null;
  private connecting: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  private started = false;
  /** Bumped by every notification; `queueSeq` keeps the last value per queue ('*' = any). */
  private seq = 0;
  private readonly queueSeq = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private liveness: NodeJS.Timeout | null = null;
  /** Receives the hand-off part of a notification (`h`: [offer id, the job row or its id]). */
  onHandoff: ((h: unknown[]) => void) | null = null;
  /** Called when the LISTEN connection is (re)established. */
  onListening: (() => void) | null = null;
  /**
   * A session advisory lock key the LISTEN connection holds while it is up (a
   * bigint, as text). Offers carry it, so an enqueue can tell an offer of a
   * process that died (nobody holds the key any more) from a live one.
   */
  readonly lockKey: string = randomBytes(8).readBigInt64BE().toString();

  constructor(
    private readonly pool: pg.Pool,
    private readonly channel: string,
    private readonly logger: Logger,
    /** False when NOTIFY is off: no LISTEN connection, only local wake-ups. */
    private readonly listen: boolean,
    private readonly now: () => number,
  ) {}

  /** The notification counter, read when a claim starts (see `waitSince`). */
  get current(): number {
    return this.seq;
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.client !== null;
  }

  /** Starts listening (lazily, on the first wait). */
  start(): void {
    if (this.started || this.closed || !this.listen) return;
    this.started = true;
    void this.connect();
  }

  /**
   * Resolves when jobs for `queues` are announced, after `timeoutMs`, or on abort.
   * `since` is the counter read when the caller's last claim started: a matching
   * notification after it means a job may have arrived after that claim looked,
   * so the wait returns at once instead of missing it.
   */
  wait(queues: readonly string[] | null, timeoutMs: number, since: number | undefined, signal?: AbortSignal, handle?: WaitHandle): Promise<void> {
    this.start();
    if (signal?.aborted || timeoutMs <= 0 || this.closed) return Promise.resolve();
    if (since !== undefined && this.lastFor(queues) > since) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter: Waiter = {
        queues: queues ? new Set(queues) : null,
        resolve: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.resolve);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.resolve, timeoutMs);
      signal?.addEventListener('abort', waiter.resolve, { once: true });
      this.waiters.add(waiter);
      if (handle) handle.wake = waiter.resolve;
    });
  }

  /** Wakes local waiters for jobs enqueued by this process (used when NOTIFY is off). */
  announceLocal(announcements: readonly Announcement[]): void {
    this.deliver(announcements);
  }

  /** Wakes every waiter (reconnects, closing). */
  wakeAll(): void {
    this.seq++;
    this.queueSeq.set('*', this.seq);
    for (const w of [...this.waiters]) w.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.liveness) clearInterval(this.liveness);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.wakeAll();
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = null;
    if (client) {
      try {
        // The connection goes back to the pool: it must not keep the key, or this store's offers would look alive.
        await client.query(`unlisten ${this.channel}; select pg_advisory_unlock_all()`);
        client.release();
      } catch (err) {
        client.release(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** The last notification counter value for `queues`. */
  lastFor(queues: readonly string[] | null): number {
    let last = this.queueSeq.get('*') ?? 0;
    if (queues === null) {
      for (const v of this.queueSeq.values()) if (v > last) last = v;
      return last;
    }
    for (const q of queues) {
      const v = this.queueSeq.get(q);
      if (v !== undefined && v > last) last = v;
    }
    return last;
  }

  private connect(): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = (async () => {
      let client: pg.PoolClient | null = null;
      try {
        client = await this.pool.connect();
        client.on('notification', (msg) => this.onNotification(msg.payload));
        const c = client;
        c.on('error', (err) => this.onLost(c, err));
        c.on('end', () => this.onLost(c, new Error('LISTEN connection ended')));
        // One round trip; the key is a number this process generated, so it can be written into the text.
        const results = (await client.query(`listen ${this.channel}; select pg_try_advisory_lock(${this.lockKey}) as ok`)) as unknown as pg.QueryResult<{ ok: boolean }>[];
        // Only another holder of the same random 64-bit key could refuse it; offers then count as alive, as before 0003.
        if (results[1]?.rows[0]?.ok !== true) this.logger.warn({ lockKey: this.lockKey }, 'the offers lock key is held by another session');
        if (this.closed) {
          client.release();
          return;
        }
        this.client = client;
        this.watch(client);
        if (this.failures > 0) this.logger.info({ channel: this.channel }, 'LISTEN connection restored');
        this.failures = 0;
        // Jobs may have been announced while nobody listened.
        this.wakeAll();
        this.onListening?.();
      } catch (err) {
        if (client) client.release(err instanceof Error ? err : new Error(String(err)));
        this.scheduleReconnect(err);
      } finally {
        this.connecting = null;
      }
    })();
    return this.connecting;
  }

  private watch(client: pg.PoolClient): void {
    if (this.liveness) clearInterval(this.liveness);
    this.liveness = setInterval(() => {
      if (this.client !== client) return;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('LISTEN connection did not answer a liveness check')), 10_000);
      });
      Promise.race([client.query('select 1'), timeout])
        .catch((err: unknown) => this.onLost(client, err))
        .finally(() => clearTimeout(timer));
    }, LIVENESS_MS);
    this.liveness.unref();
  }

  private onLost(client: pg.PoolClient, err: unknown): void {
    if (this.client !== client) return;
    this.client = null;
    if (this.liveness) clearInterval(this.liveness);
    this.liveness = null;
    try {
      client.release(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // already released
    }
    if (this.closed) return;
    // Waiters fall back to polling until the connection is back.
    this.wakeAll();
    this.scheduleReconnect(err);
  }

  private scheduleReconnect(err: unknown): void {
    if (this.closed || this.reconnectTimer) return;
    this.failures++;
    const delay = Math.min(100 * 2 ** (this.failures - 1), MAX_RECONNECT_MS);
    const log = this.failures === 1 ? this.logger.warn : this.logger.debug;
    log.call(this.logger, { err, channel: this.channel, retryInMs: delay }, 'LISTEN connection lost; reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private onNotification(payload: string | undefined): void {
    if (payload !== undefined && payload.charCodeAt(0) === 0x7b /* { */) {
      // A hand-off: {"h": [offer id, …], "a": announcements of the statement's other jobs}.
      let note: { h?: unknown; a?: unknown } | null = null;
      try {
        note = JSON.parse(payload) as { h?: unknown; a?: unknown };
      } catch {
        note = null;
      }
      if (note === null || typeof note !== 'object') return this.deliver(parsePayload('*'));
      if (Array.isArray(note.h)) {
        try {
          this.onHandoff?.(note.h);
        } catch (err) {
          this.logger.error({ err }, 'could not take a handed-over job; hung-job detection will bring it back');
        }
      }
      const a = note.a;
      if (Array.isArray(a) && a.length === 0) return;
      this.deliver(announcements(a));
      return;
    }
    this.deliver(parsePayload(payload));
  }

  private deliver(announcements: readonly Announcement[]): void {
    const now = this.now();
    for (const a of announcements) {
      const delay = a.runAt - now;
      if (delay > 0) {
        // A delayed job: wake waiters when it falls due (if they still wait then).
        const t = setTimeout(() => {
          this.timers.delete(t);
          this.wake(a.queue, a.count);
        }, Math.min(delay, 2_147_483_647));
        t.unref();
        this.timers.add(t);
        continue;
      }
      this.wake(a.queue, a.count);
    }
  }

  private wake(queue: string | null, count: number): void {
    this.seq++;
    this.queueSeq.set(queue ?? '*', this.seq);
    let left = count;
    for (const w of this.waiters) {
      if (left <= 0) break;
      if (queue === null || w.queues === null || w.queues.has(queue)) {
        w.resolve();
        left--;
      }
    }
  }
}

function parsePayload(payload: string | undefined): Announcement[] {
  if (!payload || payload === '*') return announcements('*');
  try {
    return announcements(JSON.parse(payload));
  } catch {
    return announcements('*');
  }
}

/** [[queue, count, earliest run time], …]; anything else wakes every waiter. */
function announcements(rows: unknown): Announcement[] {
  if (!Array.isArray(rows)) return [{ queue: null, count: Number.MAX_SAFE_INTEGER, runAt: 0 }];
  return rows.map((r) => {
    const [queue, count, runAt] = (Array.isArray(r) ? r : []) as [unknown, unknown, unknown];
    return {
      queue: typeof queue === 'string' ? queue : null,
      count: typeof count === 'number' && count > 0 ? count : Number.MAX_SAFE_INTEGER,
      runAt: typeof runAt === 'number' ? runAt : 0,
    };
  });
}
