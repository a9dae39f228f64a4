import type { Clock, Logger, QueueStats } from '@jqjobs/core';
import { MemoryStore } from '@jqjobs/store-memory';
import type { QueuePolicy, Scalable, ScaleOutcome } from '../src/index.ts';

/** A clock the test moves by hand. */
export interface FakeClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

export function fakeClock(start = Date.UTC(2025, 0, 1)): FakeClock {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
    set: (ms) => {
      t = ms;
    },
  };
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger that keeps every line, for assertions on what was logged. */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: Record<string, unknown>, msg?: string) => void lines.push({ level, obj, msg });
  const logger = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return logger;
}

/** A MemoryStore on a fake clock, with helpers to put jobs in a queue. */
export function storeWith(clock: Clock): MemoryStore & { add(queue: string, queued: number, running?: number): Promise<void> } {
  const store = new MemoryStore({ clock, logger: 'silent' }) as MemoryStore & { add(queue: string, queued: number, running?: number): Promise<void> };
  store.add = async (queue, queued, running = 0) => {
    for (let i = 0; i < queued + running; i++) await store.enqueue('work', { i }, { queueName: queue });
    if (running > 0) await store.claim({ workerId: 'test-worker', queues: [queue], limit: running, leaseMs: 3_600_000 });
  };
  return store;
}

/** A store whose `stats()` fails while `failing` is true. */
export function flakyStatsStore(clock: Clock) {
  const store = storeWith(clock);
  const state = { failing: false };
  const realStats = store.stats.bind(store);
  store.stats = async (): Promise<QueueStats[]> => {
    if (state.failing) throw new Error('connection refused');
    return realStats();
  };
  return Object.assign(store, { state });
}

/**
 * A scaler whose answers the test scripts: counts per queue, errors to throw
 * on count or set, and every set recorded.
 */
export class ScriptedScaler implements Scalable {
  readonly counts = new Map<string, number>();
  readonly sets: Array<{ queue: string; count: number }> = [];
  countError: unknown = null;
  setError: unknown = null;
  settleSeconds = 15;
  /** When set, count calls wait on this promise (a hanging provider). */
  hang: Promise<void> | null = null;

  constructor(initial: Record<string, number> = {}) {
    for (const [q, n] of Object.entries(initial)) this.counts.set(q, n);
  }

  async countCurrentWorkersForQueue(queue: string): Promise<number> {
    if (this.hang) await this.hang;
    if (this.countError) throw this.countError;
    return this.counts.get(queue) ?? 0;
  }

  async setCurrentWorkersForQueue(count: number, queue: string): Promise<ScaleOutcome> {
    if (this.setError) throw this.setError;
    this.sets.push({ queue, count });
    const changed = this.counts.get(queue) !== count;
    this.counts.set(queue, count);
    return { count, changed };
  }

  minSecondsToProcessDownScale(): number {
    return this.settleSeconds;
  }
}

/** A queue policy with the original defaults, overridable. */
export function policy(overrides: Partial<QueuePolicy> = {}): QueuePolicy {
  return {
    algorithm: 'linear',
    maxConcurrency: 100,
    scaleDownMinJump: 20,
    scaleDownStabilizationMs: 0,
    latencyTargetMs: null,
    averageJobMs: null,
    workerStartupMs: 0,
    ...overrides,
  };
}
