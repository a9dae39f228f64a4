import { abortableSleep, type Clock, type Logger } from '@jqjobs/core';
import type { Cluster, Redis } from 'ioredis';
import type { Client } from './scripts.ts';

/** What an offer call returned: a job claimed at once, or the registered offer. */
export type OfferResult = { claimed: Buffer[] } | { offer: Buffer; nextDue: number };

/** What the waiter needs from its store. */
export interface WaiterDeps {
  clock: Clock;
  logger: Logger;
  /** Opens a connection the waiter owns and may block on. */
  connect(): Client;
  /** A fresh mailbox key for a new connection. */
  mailbox(): string;
  /** Claims a due job for this waiter at once, or registers its offer (on `conn`). */
  offer(conn: Client, queues: readonly string[] | null, deadline: number, mailbox: string, tokenPrefix: string): Promise<OfferResult>;
  /** Withdraws an offer; returns what reached the mailbox meanwhile. */
  cancel(offer: Buffer, mailbox: string): Promise<Buffer[]>;
  /** Takes a mailbox message: a claimed job (`c|id|token|record`) or a wake-up (`w`). */
  deliver(message: Buffer): void;
  /** A token prefix for the one job an offer may be handed. */
  tokenPrefix(): string;
  /** The reply of a blocked call was lost with its connection: hand back a job it may have carried. */
  lost(tokenPrefix: string): void;
  /** Unblocks a blocked connection of a standalone server at once (CLIENT UNBLOCK); null in a cluster. */
  unblock: ((clientId: number) => Promise<unknown>) | null;
  /** Longest single blocking call. */
  blockMaxMs: number;
  /** Extra time a blocking call gets before the watchdog declares its connection dead. */
  watchdogGraceMs: number;
}

interface Conn {
  client: Client;
  mailbox: string;
  /** Server-side client id (for CLIENT UNBLOCK), refreshed on every (re)connect. */
  id: number | null;
  /** Ends the wait in progress on this connection (close, watchdog). */
  interrupt: (() => void) | null;
}

/** Concurrent waits beyond this share nothing: they poll briefly instead of opening more connections. */
const MAX_CONNECTIONS = 4;

/**
 * Wake-ups by hand-off. An idle worker registers an *offer* (its claim request and
 * a mailbox) and blocks on its mailbox (BLPOP) on a connection of its own. The
 * script that makes a job due — an enqueue, a retry, a release — claims the job
 * for the oldest matching offer and pushes it into that mailbox, so the job
 * reaches the worker in the reply to its blocked call: two network hops from
 * enqueue to start, instead of a wake-up and then a claim.
 *
 * Every blocking call has a finite timeout (never past the next delayed job); a
 * watchdog replaces a connection whose call outlives it; a closed connection ends
 * the wait at once and any job its lost reply carried is handed back. So a
 * reconnect costs at most a poll, and never leaves a worker idle.
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
    const deps = this.deps;
    const prefix = deps.tokenPrefix();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      conn.interrupt = null;
      if (!this.closed && this.all.has(conn)) this.idle.push(conn);
    };
    let failed = false;
    await new Promise<void>((resolve) => {
      let done = false;
      let watchdog: NodeJS.Timeout | undefined;
      let offer: Buffer | null = null;
      let blocked = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(watchdog);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      // Withdraws the offer (through the store's command connection) and keeps what came meanwhile.
      const withdraw = () => {
        if (!offer) return;
        const o = offer;
        offer = null;
        deps.cancel(o, conn.mailbox).then(
          (items) => items.forEach((m) => deps.deliver(m)),
          (err: unknown) => deps.logger.debug({ err }, 'could not withdraw a wake-up offer; it expires by itself'),
        );
      };
      const broken = () => {
        // A blocked call's reply (a job handed to us) may have been lost with the connection.
        if (blocked) deps.lost(prefix);
        withdraw();
      };
      const arm = (ms: number) => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          deps.logger.warn({ waitedMs: ms }, 'redis wake-up connection did not answer in time; replacing it');
          this.discard(conn);
          broken();
          finish();
        }, ms);
        watchdog.unref?.();
      };
      const onAbort = () => {
        // Free the connection now rather than when its block times out; the offer is withdrawn after.
        if (blocked && conn.id !== null && deps.unblock) deps.unblock(conn.id).catch(() => {});
        finish();
      };
      conn.interrupt = () => {
        release();
        broken();
        finish();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const first = Math.min(timeoutMs, deps.blockMaxMs);
      arm(first + deps.watchdogGraceMs);

      const run = async () => {
        const r = await deps.offer(conn.client, queues, deps.clock.now() + first + deps.watchdogGraceMs, conn.mailbox, prefix);
        if ('claimed' in r) {
          deps.deliver(Buffer.concat([Buffer.from('c|'), r.claimed[0]!, Buffer.from('|'), r.claimed[1]!, Buffer.from('|'), r.claimed[2]!]));
          release();
          return finish();
        }
        offer = r.offer;
        let ms = first;
        if (Number.isFinite(r.nextDue)) ms = Math.min(ms, r.nextDue - deps.clock.now());
        if (ms <= 0 || done) {
          withdraw();
          release();
          return finish();
        }
        ms = Math.max(1, ms);
        arm(ms + deps.watchdogGraceMs);
        blocked = true;
        const got = await (conn.client as Redis).blpopBuffer(conn.mailbox, (ms / 1000).toFixed(3));
        blocked = false;
        // The server removed the offer it served; any other ending withdraws it.
        if (got) {
          offer = null;
          deps.deliver(got[1]);
        } else withdraw();
        release();
        finish();
      };
      run().catch((err: unknown) => {
        deps.logger.debug({ err }, 'redis wake-up wait failed');
        failed = true;
        broken();
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
    if (reuse) return reuse;
    if (this.all.size >= MAX_CONNECTIONS) return null;
    const client = this.deps.connect();
    const conn: Conn = { client, mailbox: this.deps.mailbox(), id: null, interrupt: null };
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
