import { defineJob, Worker, type Store } from '@jqjobs/core';
import { MemoryStore } from '@jqjobs/store-memory';
import type { BenchHandler, BenchPayload, QueueAdapter } from './types.ts';

let current: BenchHandler = () => {};
// One definition per process: the registry is process-wide, and the handler is swapped per measurement.
const noop = defineJob<BenchPayload>({
  name: 'bench-noop',
  run(payload) {
    current(payload);
  },
});


/** Our stores share everything but the store construction. */
export abstract class JQJobsAdapter implements QueueAdapter {
  abstract readonly name: 'jqjobs-memory' | 'jqjobs-postgres' | 'jqjobs-redis';
  abstract readonly backend: 'memory' | 'postgres' | 'redis';
  protected store: Store | null = null;
  private worker: Worker | null = null;
  private running: Promise<void> | null = null;

  /** Makes (and migrates) the store. */
  protected abstract open(): Promise<Store>;

  async setup(): Promise<void> {
    this.store = await this.open();
  }

  async enqueue(payload: BenchPayload): Promise<void> {
    await this.store!.enqueue(noop, payload);
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.store!.enqueueMany(payloads.map((payload) => ({ type: noop, payload })));
  }

  async startWorkers(concurrency: number, handler: BenchHandler): Promise<void> {
    current = handler;
    const worker = new Worker(this.store!, { jobs: [noop], concurrency, enableJitter: false, logger: 'silent' });
    this.worker = worker;
    this.running = worker.start();
    // A failed start surfaces here rather than as an unhandled rejection later.
    this.running.catch(() => {});
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    worker.stop();
    await this.running;
    this.running = null;
  }

  async teardown(): Promise<void> {
    await this.stop();
    const store = this.store;
    this.store = null;
    if (store) await store.close();
  }
}

export class JQJobsMemoryAdapter extends JQJobsAdapter {
  readonly name = 'jqjobs-memory' as const;
  readonly backend = 'memory' as const;
  protected async open(): Promise<Store> {
    return new MemoryStore({ logger: 'silent' });
  }
}
