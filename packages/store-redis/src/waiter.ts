import { abortableSleep, type Clock, type Logger } from '@jqjobs/core';
import type { Cluster, Redis } from 'ioredis';
import type { KeyLayout } from './keys.ts';
import type { Client } from './scripts.ts';

/** What the waiter needs from its store. */
export interface WaiterDeps {
  keys: KeyLayout;
  clock: Clock;
  logger: Logger;
  /** Opens a connection the waiter owns and may block on. */
  connect(): Client;
  /** Reads the queues to watch and the earliest delayed run time (ms, or Infinity). */
  peek(conn: Client, queues: readonly string[] | null): Promise<{ names: string[]; nextDue: number }>;
  /** Unblocks a blocked connection of a standalone server at once (CLIENT UNBLOCK); null in a cluster. */
  unblock: ((clientId: number) => Promise<unknown>) | null;
  /** Longest single blocking call. */
  blockMaxMs: number;
  /** Extra time a blocking call gets before the watchdog declares its connection dead. */
  watchdogGraceMs: number;
}

interface Conn {
  client: Client;
  /** Server-side client id (for CLIENT UNBLOCK), refreshed on every (re)connect. */
  id: number | null;
  busy: boolean;
  /** Ends the wait in progress on this connection (close, watchdog). */
  interrupt: (() => void) | null;
}

/** Concurrent waits beyond this share nothing: they poll briefly instead of opening more connections. */
const MAX_CONNECTIONS = 4;

/**
 * Blocking wake-ups. A waiting worker blocks with BZPOPMIN on the wake-up keys of
 * its queues, on a connection of its own; an enqueue that makes a job due adds a
 * token there, and Redis answers the blocked call at once. Every blocking call has
 * a finite timeout; a watchdog replaces a connection whose call outlives it, and a
 * closed connection ends the wait at once, so a reconnect can only cause an extra
 * poll, never a silently idle worker.
 */
export class Waiter {
  private readonly idle: Conn[] = [];
  private readonly all = new Set<Conn>();
  private closed = false;

  constructor(private readonly deps: WaiterDeps) {}

  async wait(queues: readonly string[] | null, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted || timeoutMs <= 0) return;
    const conn = this.acquire();
    if (!conn) {
      await abortableSleep(Math.min(timeoutMs, 100), signal);
      return;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      conn.busy = false;
      conn.interrupt = null;
      if (!this.closed && this.all.has(conn)) this.idle.push(conn);
    };
    // Every step below can be cut short: abort, a closed connection, or the watchdog.
    // A command whose connection dropped may never answer, so nothing here waits on one alone.
    let failed = false;
    await new Promise<void>((resolve) => {
      let done = false;
      let watchdog: NodeJS.Timeout | undefined;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(watchdog);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const arm = (ms: number) => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          this.deps.logger.warn({ waitedMs: ms }, 'redis wake-up connection did not answer in time; replacing it');
          this.discard(conn);
          finish();
        }, ms);
        watchdog.unref?.();
      };
      const onAbort = () => {
        // Free the connection now rather than when its block times out.
        if (conn.id !== null && this.deps.unblock) this.deps.unblock(conn.id).catch(() => {});
        finish();
      };
      conn.interrupt = () => {
        release();
        finish();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      arm(this.deps.blockMaxMs + this.deps.watchdogGraceMs);

      const run = async () => {
        const peek = await this.deps.peek(conn.client, queues);
        if (done) return release();
        let ms = timeoutMs;
        if (Number.isFinite(peek.nextDue)) ms = Math.min(ms, peek.nextDue - this.deps.clock.now());
        const keys = peek.names.map((q) => this.deps.keys.wake(q));
        if (queues === null) keys.push(this.deps.keys.wakeAll);
        if (ms <= 0 || keys.length === 0) {
          release();
          if (ms <= 0) return finish();
          // Nothing to watch (no queues): just sleep.
          clearTimeout(watchdog);
          watchdog = setTimeout(finish, Math.min(ms, this.deps.blockMaxMs));
          return;
        }
        ms = Math.max(1, Math.min(ms, this.deps.blockMaxMs));
        arm(ms + this.deps.watchdogGraceMs);
        await (conn.client as Redis).bzpopmin(...keys, (ms / 1000).toFixed(3));
        release();
        finish();
      };
      run().catch((err: unknown) => {
        this.deps.logger.debug({ err }, 'redis wake-up wait failed');
        failed = true;
        release();
        finish();
      });
    });
    // After a failure, pause a little so a worker whose Redis is down does not spin.
    if (failed && !signal?.aborted && !this.closed) await abortableSleep(Math.min(timeoutMs, 250), signal);
  }

  /** Closes every connection the waiter opened; waits in progress end at once. */
  async close(): Promise<void> {
    this.closed = true;
    const conns = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    for (const c of conns) c.interrupt?.();
    await Promise.all(conns.map((c) => c.client.quit().catch(() => c.client.disconnect())));
  }

  private acquire(): Conn | null {
    const reuse = this.idle.pop();
    if (reuse) {
      reuse.busy = true;
      return reuse;
    }
    if (this.all.size >= MAX_CONNECTIONS) return null;
    const client = this.deps.connect();
    const conn: Conn = { client, id: null, busy: true, interrupt: null };
    client.on('error', (err: unknown) => this.deps.logger.debug({ err }, 'redis wake-up connection error'));
    // A dropped connection loses its blocked call: end the wait so the worker polls now.
    client.on('close', () => conn.interrupt?.());
    if (this.deps.unblock) {
      const learnId = () => {
        (client as Redis)
          .client('ID')
          .then((id) => (conn.id = Number(id)))
          .catch(() => (conn.id = null));
      };
      client.on('ready', learnId);
      if ((client as Redis).status === 'ready') learnId();
    }
    this.all.add(conn);
    return conn;
  }

  private discard(conn: Conn): void {
    this.all.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    conn.interrupt = null;
    (conn.client as Redis | Cluster).disconnect();
  }
}
