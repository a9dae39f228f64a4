import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { childLogger, type Clock, InvalidArgumentError, type Logger, type QueueStats, resolveLogger, type Store, systemClock } from '@jqjobs/core';
import { type Decision, type DecisionInputs, type DecisionReason, decide, EMPTY_HISTORY, type QueueHistory, type QueueSnapshot, recordTick } from './decide.ts';
import { ScalerError, ScalerFatalError, UnknownQueueError } from './errors.ts';
import { type AutoscalerLease, StoreLease } from './lease.ts';
import { type AutoscalerOptions, type ResolvedAutoscalerOptions, resolveAutoscalerOptions } from './options.ts';
import type { Scalable, ScaleOutcome, ScaleResult, ScaleUpdate } from './scalable.ts';
import { assertQueueName } from './validate.ts';

/**
 * What the autoscaler needs from a store: `stats()` and `detectHungJobs()`, plus
 * `enqueue` and `withLock` for the default `StoreLease`. Every `Store` fits.
 */
export type AutoscalerStore = Pick<Store, 'stats' | 'detectHungJobs'> & Partial<Pick<Store, 'enqueue' | 'withLock'>>;

/** What came of a decision. */
export type DecisionOutcome =
  /** Nothing to do (the action was `none`). */
  | 'none'
  /** The driver changed the provider's count to `applied`. */
  | 'applied'
  /** The driver found nothing to write (see `note`). */
  | 'unchanged'
  /** The write failed (see `error`); the next tick decides again. */
  | 'failed'
  /** The queue was not evaluated: standby (another autoscaler is active) or disabled. */
  | 'skipped';

/** One queue's decision at one tick with what came of it: what `explain(queue)` returns and what is logged. */
export interface DecisionRecord extends Omit<Decision, 'reason'> {
  reason: DecisionReason | 'standby' | 'disabled';
  outcome: DecisionOutcome;
  /** The count the provider was asked for, when `outcome` is `applied`. */
  applied: number | null;
  /** The driver's remark (e.g. a clamp to MaxSize), when it made one. */
  note: string | null;
  /** The error that made an input unknown, failed the write, or disabled the queue. */
  error: string | null;
}

/** Typed lifecycle events. */
export interface AutoscalerEvents {
  /** One per queue per tick. */
  decision: [record: DecisionRecord];
  /** After each tick, with every queue's record. */
  tick: [records: DecisionRecord[]];
  /** A driver reported a fatal error: the queue is not scaled until `enableQueue(queue)`. */
  'queue:disabled': [queue: string, error: unknown];
  /** This instance became the active autoscaler (true) or went on standby (false). */
  lease: [active: boolean];
  /** `store.detectHungJobs()` retried this many jobs (only emitted when > 0). */
  'hung:detected': [count: number];
  /** An error the loop survived (a store read, hung detection, the lease). */
  'autoscaler:error': [error: unknown];
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function message(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function isScalable(value: unknown): value is Scalable {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  return typeof s.countCurrentWorkersForQueue === 'function' && typeof s.setCurrentWorkersForQueue === 'function' && typeof s.minSecondsToProcessDownScale === 'function';
}

function validOutcome(value: unknown): value is ScaleOutcome {
  if (value === null || typeof value !== 'object') return false;
  const o = value as Record<string, unknown>;
  return typeof o.count === 'number' && Number.isSafeInteger(o.count) && o.count >= 0 && typeof o.changed === 'boolean';
}

/**
 * Sizes worker pools from the queues: every `pollingIntervalSeconds` it reads
 * `store.stats()` and the provider's counts, decides per queue (`decide`, a pure
 * function of history, inputs and time) and applies the changes through the
 * `Scalable`. `store.detectHungJobs()` runs on its own timer. Only the instance
 * holding the lease acts; the others stand by.
 *
 * Nothing in the loop throws out of it: a failed store read or provider read
 * makes that input unknown (and unknown never lowers capacity), a failed write
 * is retried by the next tick's decision, a fatal driver error disables only
 * its queue.
 *
 * @example
 * const autoscaler = new Autoscaler(store, new NoopScaler(), {
 *   queues: { email: { scalingAlgorithm: 'linear', maxConcurrency: 10 } },
 * });
 * await autoscaler.run(); // until autoscaler.stop()
 */
export class Autoscaler extends EventEmitter<AutoscalerEvents> {
  /** This instance's id (the lease owner). */
  readonly id: string;
  private readonly opts: ResolvedAutoscalerOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly lease: AutoscalerLease | null;
  private readonly histories = new Map<string, QueueHistory>();
  private readonly records = new Map<string, DecisionRecord>();
  private readonly disabled = new Map<string, { at: number; error: string }>();
  private active = false;
  private tickChain: Promise<unknown> = Promise.resolve();
  private hungInFlight: Promise<number | null> | null = null;
  private abort: AbortController | null = null;
  private runPromise: Promise<void> | null = null;

  /**
   * @throws InvalidAutoscalerConfigError for bad options; InvalidArgumentError for
   * a store or scaler that lacks what is needed, or a queue the scaler does not route.
   */
  constructor(
    private readonly store: AutoscalerStore,
    private readonly scalable: Scalable,
    options: AutoscalerOptions,
  ) {
    super();
    this.opts = resolveAutoscalerOptions(options);
    if (store === null || typeof store !== 'object' || typeof store.stats !== 'function' || typeof store.detectHungJobs !== 'function') {
      throw new InvalidArgumentError('Autoscaler: the store must have stats() and detectHungJobs()');
    }
    if (!isScalable(scalable)) {
      throw new InvalidArgumentError('Autoscaler: the scalable must implement countCurrentWorkersForQueue, setCurrentWorkersForQueue and minSecondsToProcessDownScale');
    }
    for (const queue of this.opts.queues.keys()) {
      if (scalable.handlesQueue && !scalable.handlesQueue(queue)) throw new UnknownQueueError(queue, 'the scaler given to the Autoscaler');
    }
    if (options.lease === undefined) {
      if (typeof store.enqueue !== 'function' || typeof store.withLock !== 'function') {
        throw new InvalidArgumentError('Autoscaler: the default StoreLease needs store.enqueue and store.withLock; pass `lease` (or null)');
      }
      this.lease = new StoreLease({ enqueue: store.enqueue.bind(store), withLock: store.withLock.bind(store) });
    } else {
      this.lease = options.lease;
    }
    this.clock = options.clock ?? systemClock;
    this.id = options.id ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.logger = childLogger(resolveLogger(options.logger), { autoscaler: this.id });
  }

  /** The configured queues. */
  get queues(): string[] {
    return [...this.opts.queues.keys()];
  }

  /** True while this instance holds the lease (always true with `lease: null` once a tick ran). */
  get isActive(): boolean {
    return this.active;
  }

  /**
   * Runs the loop until `stop()`: a tick at once, then one every
   * `pollingIntervalSeconds`, and hung-job detection on its own timer. Calling it
   * again while it runs returns the same promise.
   */
  run(): Promise<void> {
    if (this.runPromise) return this.runPromise;
    const abort = new AbortController();
    this.abort = abort;
    this.runPromise = this.loop(abort.signal).finally(() => {
      this.runPromise = null;
      if (this.abort === abort) this.abort = null;
    });
    return this.runPromise;
  }

  /** Stops the loop, waits for the tick in flight, and releases the lease. Idempotent. */
  async stop(): Promise<void> {
    this.abort?.abort();
    if (this.runPromise) await this.runPromise;
    else {
      await this.tickChain;
      await this.releaseLease();
    }
  }

  /**
   * One tick: every queue is read, decided and applied. Ticks never overlap (a
   * call during a tick runs after it). Resolves with one record per queue; never
   * rejects for a store or provider failure.
   */
  scaleAllQueues(): Promise<DecisionRecord[]> {
    const next = this.tickChain.then(() => this.tick());
    this.tickChain = next.catch(() => undefined);
    return next;
  }

  /**
   * Runs `store.detectHungJobs()` now (at most one run at a time; a call during a
   * run shares it). Resolves with the number of jobs retried, or null when it failed.
   */
  detectHungJobs(): Promise<number | null> {
    if (this.hungInFlight) return this.hungInFlight;
    const run = (async () => {
      try {
        const n = await this.store.detectHungJobs();
        if (n > 0) {
          this.logger.info({ count: n }, 'hung jobs retried');
          this.emit('hung:detected', n);
        }
        return n;
      } catch (err) {
        this.logger.warn({ err }, 'hung-job detection failed');
        this.emit('autoscaler:error', err);
        return null;
      } finally {
        this.hungInFlight = null;
      }
    })();
    this.hungInFlight = run;
    return run;
  }

  /**
   * The last decision for a queue — inputs, gates, action or the reason for
   * none, and what came of it — or null before the first tick.
   * @throws UnknownQueueError for a queue this autoscaler does not scale.
   */
  explain(queue: string): DecisionRecord | null {
    this.assertConfigured(queue);
    return this.records.get(queue) ?? null;
  }

  /** The queue's scaling history (settle and stabilisation state). @throws UnknownQueueError */
  history(queue: string): QueueHistory {
    this.assertConfigured(queue);
    return this.histories.get(queue) ?? EMPTY_HISTORY;
  }

  /** Queues disabled by a fatal driver error, with the error. */
  disabledQueues(): Array<{ queue: string; since: Date; error: string }> {
    return [...this.disabled].map(([queue, d]) => ({ queue, since: new Date(d.at), error: d.error }));
  }

  /** Scales a disabled queue again from the next tick (e.g. after fixing the credentials). @throws UnknownQueueError */
  enableQueue(queue: string): void {
    this.assertConfigured(queue);
    if (this.disabled.delete(queue)) this.logger.warn({ queue }, 'queue re-enabled');
  }

  // ----- internals -----------------------------------------------------------

  private assertConfigured(queue: string): void {
    assertQueueName(queue, 'Autoscaler');
    if (!this.opts.queues.has(queue)) throw new UnknownQueueError(queue, `this Autoscaler (it scales ${this.queues.map((q) => JSON.stringify(q)).join(', ')})`);
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const hung = this.opts.detectHungJobsEveryMs > 0 ? this.hungLoop(signal) : Promise.resolve();
    try {
      while (!signal.aborted) {
        try {
          await this.scaleAllQueues();
        } catch (err) {
          // tick() guards every call; reaching here is a bug, and the loop must survive it.
          this.logger.error({ err }, 'autoscaler tick failed');
          this.emit('autoscaler:error', err);
        }
        await sleep(this.opts.pollingIntervalMs, signal);
      }
    } finally {
      await hung;
      await this.tickChain;
      await this.releaseLease();
    }
  }

  private async hungLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.opts.detectHungJobsEveryMs, signal);
      if (signal.aborted) break;
      // Standby instances leave the sweep to the active one.
      if (this.lease && !this.active) continue;
      await this.detectHungJobs();
    }
  }

  private async releaseLease(): Promise<void> {
    if (!this.lease) return;
    try {
      await this.lease.release(this.id);
    } catch (err) {
      this.logger.warn({ err }, 'could not release the autoscaler lease');
    }
    if (this.active) {
      this.active = false;
      this.emit('lease', false);
    }
  }

  private async checkLease(): Promise<boolean> {
    let active = true;
    if (this.lease) {
      try {
        active = await this.lease.acquire(this.id, this.opts.leaseTtlMs);
      } catch (err) {
        this.logger.warn({ err }, 'could not check the autoscaler lease; idle this tick');
        this.emit('autoscaler:error', err);
        active = false;
      }
    }
    if (active !== this.active) {
      this.active = active;
      if (this.lease) this.logger.info({ active }, active ? 'this autoscaler is now active' : 'another autoscaler holds the lease; standing by');
      this.emit('lease', active);
    }
    return active;
  }

  private settleMs(queue: string): number {
    let s: unknown;
    try {
      s = this.scalable.minSecondsToProcessDownScale(queue);
    } catch (err) {
      this.logger.warn({ queue, err }, 'minSecondsToProcessDownScale failed; using 5 s');
    }
    const secs = typeof s === 'number' && Number.isFinite(s) && s >= 0 ? s : 5;
    return Math.max(5, secs) * 1000;
  }

  private canScaleDown(queue: string): boolean {
    if (!this.scalable.canScaleDown) return true;
    try {
      return this.scalable.canScaleDown(queue) !== false;
    } catch {
      return false;
    }
  }

  private skipped(queue: string, now: number, reason: 'standby' | 'disabled', why: string, error: string | null): DecisionRecord {
    const p = this.opts.queues.get(queue)!;
    return {
      queue,
      at: now,
      action: 'none',
      reason,
      message: `WONT scale ${queue}: ${why}`,
      from: null,
      to: null,
      desired: null,
      target: null,
      inputs: { algorithm: p.algorithm, queued: null, running: null, pending: null, oldestQueuedAgeMs: null, current: null, maxConcurrency: p.maxConcurrency },
      gates: {
        settling: false,
        settleMs: 0,
        settleRemainingMs: 0,
        scaleDownMinJump: p.scaleDownMinJump,
        drop: null,
        scaleDownStabilizationMs: p.scaleDownStabilizationMs,
        canScaleDown: true,
      },
      outcome: 'skipped',
      applied: null,
      note: null,
      error,
    };
  }

  private async tick(): Promise<DecisionRecord[]> {
    const now = this.clock.now();
    const queues = this.queues;
    if (!(await this.checkLease())) {
      return this.finish(queues.map((q) => this.skipped(q, now, 'standby', 'another autoscaler holds the lease', null)));
    }

    const records = new Map<string, DecisionRecord>();
    const live: string[] = [];
    for (const q of queues) {
      const d = this.disabled.get(q);
      if (d) records.set(q, this.skipped(q, now, 'disabled', `disabled after a fatal driver error (${d.error}); call enableQueue()`, d.error));
      else live.push(q);
    }

    // 1. The store, in one round trip.
    let stats: Map<string, QueueSnapshot> | null = null;
    let statsError: string | null = null;
    try {
      const all: QueueStats[] = await this.store.stats();
      if (!Array.isArray(all)) throw new TypeError('store.stats() did not return an array');
      // Jobs scheduled for later are not work to scale for: count due jobs where the store reports them.
      stats = new Map(all.map((s) => [s.queueName, { queued: s.dueCount ?? s.counts.queued, running: s.counts.running, oldestQueuedAgeMs: s.oldestQueuedAgeMs }]));
    } catch (err) {
      statsError = message(err);
      this.logger.warn({ err }, 'store.stats() failed; no queue is scaled this tick');
      this.emit('autoscaler:error', err);
    }

    // 2. The provider, only when there is something to decide with.
    const current = new Map<string, number | null>();
    const countErrors = new Map<string, string>();
    if (stats && live.length > 0) {
      if (this.scalable.prepareTick) {
        try {
          await this.scalable.prepareTick(live);
        } catch (err) {
          // The counts below report the same failure per queue.
          this.logger.debug({ err }, 'scaler.prepareTick failed');
        }
      }
      await Promise.all(
        live.map(async (q) => {
          try {
            const n: unknown = await this.scalable.countCurrentWorkersForQueue(q);
            if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new TypeError(`the scaler reported ${String(n)} workers`);
            current.set(q, n);
          } catch (err) {
            current.set(q, null);
            countErrors.set(q, message(err));
            this.driverFailed(q, err, 'count');
          }
        }),
      );
    }

    // 3. Decide (pure).
    const decisions = new Map<string, Decision>();
    for (const q of live) {
      if (this.disabled.has(q)) continue; // disabled by its count just now
      const inputs: DecisionInputs = {
        queue: q,
        policy: this.opts.queues.get(q)!,
        stats: stats ? (stats.get(q) ?? { queued: 0, running: 0, oldestQueuedAgeMs: null }) : null,
        current: current.get(q) ?? null,
        settleMs: this.settleMs(q),
        pollingIntervalMs: this.opts.pollingIntervalMs,
        canScaleDown: this.canScaleDown(q),
      };
      decisions.set(q, decide(this.histories.get(q) ?? EMPTY_HISTORY, inputs, now));
    }

    // 4. Apply.
    const updates: ScaleUpdate[] = [];
    for (const d of decisions.values()) if (d.action !== 'none' && d.to !== null) updates.push({ queue: d.queue, count: d.to });
    const results = await this.apply(updates);

    for (const q of live) {
      const d = decisions.get(q);
      if (!d) {
        const dis = this.disabled.get(q);
        records.set(q, this.skipped(q, now, 'disabled', `disabled after a fatal driver error (${dis?.error ?? 'unknown'}); call enableQueue()`, dis?.error ?? null));
        continue;
      }
      const result = results.get(q);
      let record: DecisionRecord;
      if (d.action === 'none' || !result) {
        record = { ...d, outcome: 'none', applied: null, note: null, error: statsError ?? countErrors.get(q) ?? null };
      } else if (result.ok) {
        record = { ...d, outcome: result.changed ? 'applied' : 'unchanged', applied: result.changed ? result.count : null, note: result.note ?? null, error: null };
      } else {
        this.driverFailed(q, result.error, 'set');
        record = { ...d, outcome: 'failed', applied: null, note: null, error: message(result.error) };
      }
      const policy = this.opts.queues.get(q)!;
      this.histories.set(q, recordTick(this.histories.get(q) ?? EMPTY_HISTORY, d, record.applied, policy.scaleDownStabilizationMs));
      records.set(q, record);
    }
    return this.finish(queues.map((q) => records.get(q)!));
  }

  private async apply(updates: readonly ScaleUpdate[]): Promise<Map<string, ScaleResult>> {
    const results = new Map<string, ScaleResult>();
    if (updates.length === 0) return results;
    const fill = (u: ScaleUpdate, out: unknown): ScaleResult => {
      if (out === undefined) return { queue: u.queue, ok: true, count: u.count, changed: true };
      if (validOutcome(out)) return { queue: u.queue, ok: true, count: out.count, changed: out.changed, ...(out.note ? { note: out.note } : {}) };
      this.logger.warn({ queue: u.queue, outcome: out }, 'the scaler returned an invalid outcome; assuming it applied the count');
      return { queue: u.queue, ok: true, count: u.count, changed: true };
    };
    if (this.scalable.setCurrentWorkersForQueues) {
      let batch: ScaleResult[];
      try {
        batch = await this.scalable.setCurrentWorkersForQueues(updates);
      } catch (error) {
        for (const u of updates) results.set(u.queue, { queue: u.queue, ok: false, error });
        return results;
      }
      for (const r of Array.isArray(batch) ? batch : []) {
        const u = updates.find((x) => x.queue === r?.queue);
        if (!u) continue;
        results.set(u.queue, r.ok ? fill(u, { count: r.count, changed: r.changed, note: r.note }) : r);
      }
      for (const u of updates) {
        if (!results.has(u.queue)) results.set(u.queue, { queue: u.queue, ok: false, error: new Error('the scaler returned no result for this queue') });
      }
      return results;
    }
    await Promise.all(
      updates.map(async (u) => {
        try {
          results.set(u.queue, fill(u, await this.scalable.setCurrentWorkersForQueue(u.count, u.queue)));
        } catch (error) {
          results.set(u.queue, { queue: u.queue, ok: false, error });
        }
      }),
    );
    return results;
  }

  private driverFailed(queue: string, err: unknown, op: 'count' | 'set'): void {
    if (err instanceof ScalerFatalError) {
      if (!this.disabled.has(queue)) {
        this.disabled.set(queue, { at: this.clock.now(), error: message(err) });
        this.logger.error({ queue, op, err }, `QUEUE ${queue} DISABLED: the scaler reported a fatal error; it is not scaled until enableQueue() is called`);
        this.emit('queue:disabled', queue, err);
      }
      return;
    }
    if (err instanceof ScalerError) this.logger.warn({ queue, op, err }, `scaler ${op} failed; retried on a later tick`);
    else this.logger.error({ queue, op, err }, `scaler ${op} failed unexpectedly; retried on a later tick`);
  }

  private finish(records: DecisionRecord[]): DecisionRecord[] {
    for (const r of records) {
      this.records.set(r.queue, r);
      const meta = {
        queue: r.queue,
        action: r.action,
        reason: r.reason,
        outcome: r.outcome,
        from: r.from,
        to: r.to,
        desired: r.desired,
        pending: r.inputs.pending,
        oldestQueuedAgeMs: r.inputs.oldestQueuedAgeMs,
        ...(r.applied !== null ? { applied: r.applied } : {}),
        ...(r.note ? { note: r.note } : {}),
        ...(r.error ? { error: r.error } : {}),
      };
      if (r.action !== 'none') this.logger.info(meta, r.message);
      else this.logger.debug(meta, r.message);
      this.emit('decision', r);
    }
    this.emit('tick', records);
    return records;
  }
}
