import { type Clock, defineJob, type JobDefinition, type JobDefinitionInput, type Store, Worker, type WorkerOptions } from '@jqjobs/core';
import { afterEach, beforeEach } from 'vitest';

/**
 * A controllable clock: follows real time plus an offset, or stands still when
 * frozen. Stores under test must take every timestamp from the clock they are
 * given, so the kit can test time rules exactly (hung-job boundaries, leases,
 * delayed jobs) without sleeping.
 */
export class TestClock implements Clock {
  private offset = 0;
  private frozenAt: number | null = null;

  now(): number {
    return this.frozenAt ?? Date.now() + this.offset;
  }

  /** Moves time forward (or back with a negative value). */
  advance(ms: number): void {
    if (this.frozenAt !== null) this.frozenAt += ms;
    else this.offset += ms;
  }

  /** Stops time at its current value (or at `at`). */
  freeze(at: number = this.now()): void {
    this.frozenAt = at;
  }

  /** Lets time run again from where it stands. */
  unfreeze(): void {
    if (this.frozenAt !== null) this.offset = this.frozenAt - Date.now();
    this.frozenAt = null;
  }
}

/** What the kit passes to your factory. */
export interface StoreFactoryContext {
  /** The clock the store must use for every timestamp it writes or compares. */
  clock: Clock;
}

/** Options for the conformance kit. */
export interface StoreConformanceOptions<S extends Store = Store> {
  /** Shown in the test names. */
  name: string;
  /** Makes a fresh, empty store that uses `ctx.clock`. Called before every test. */
  createStore(ctx: StoreFactoryContext): S | Promise<S>;
  /** Runs after each test once the store is closed (drop a schema, delete keys…). */
  destroyStore?(store: S): void | Promise<void>;
  /** How many Worker instances the concurrency tests run at once. @default 6 */
  workers?: number;
}

/** Per-test state. */
export interface KitContext<S extends Store = Store> {
  store: S;
  clock: TestClock;
  /** Defines a job type with a unique name for this test. */
  def<P>(input: Omit<JobDefinitionInput<P>, 'name'> & { name?: string }): JobDefinition<P>;
  /** A Worker with test-friendly defaults (no jitter, silent, no background hung sweeps). */
  worker(jobs: readonly JobDefinition<never>[], options?: Partial<WorkerOptions>): Worker;
}

let nameSeq = 0;

/** Registers beforeEach/afterEach hooks and returns a getter for the current test's context. */
export function useKit<S extends Store>(options: StoreConformanceOptions<S>): () => KitContext<S> {
  let current: KitContext<S> | null = null;
  let workers: Worker[] = [];
  beforeEach(async () => {
    const clock = new TestClock();
    const store = await options.createStore({ clock });
    workers = [];
    current = {
      store,
      clock,
      def: <P>(input: Omit<JobDefinitionInput<P>, 'name'> & { name?: string }) =>
        defineJob<P>({ ...input, name: `kit:${input.name ?? 'job'}:${process.pid}:${++nameSeq}` } as JobDefinitionInput<P>),
      worker: (jobs, opts = {}) => {
        const w = new Worker(store, { jobs, enableJitter: false, logger: 'silent', detectHungJobsEvery: 0, wakeupEvery: 0.05, ...opts });
        workers.push(w);
        return w;
      },
    };
  });
  afterEach(async () => {
    if (!current) return;
    const { store } = current;
    for (const w of workers) w.stop();
    await Promise.all(workers.map((w) => (w.inFlight > 0 ? w.shutdown(1) : Promise.resolve(true))));
    current = null;
    await store.close();
    await options.destroyStore?.(store);
  });
  return () => {
    if (!current) throw new Error('kit context used outside a test');
    return current;
  };
}

/** Resolves after `ms` real milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns true (real time), failing after `timeoutMs` with `what`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(5);
  }
}

/** A promise you resolve from outside: lets a test hold a job "running". */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** A claim request with test defaults. */
export function req(limit = 1, queues: readonly string[] | null = null, leaseMs = 30_000) {
  return { workerId: 'kit-worker', queues, limit, leaseMs };
}
