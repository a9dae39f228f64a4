import { Queue, Worker } from 'bullmq';
import { QUEUE_NAME, type BenchHandler, type BenchPayload, type QueueAdapter, type Target } from './types.ts';

/** BullMQ with its defaults: Queue + Worker (concurrency 10), default job options (completed jobs kept, events stream on). */
export class BullMQAdapter implements QueueAdapter {
  readonly name = 'bullmq' as const;
  readonly backend = 'redis' as const;
  private queue: Queue<BenchPayload> | null = null;
  private worker: Worker<BenchPayload> | null = null;

  constructor(private readonly target: Target) {}

  private get connection() {
    const { host, port, db } = this.target.redis;
    return { host, port, db };
  }

  async setup(): Promise<void> {
    this.queue = new Queue<BenchPayload>(QUEUE_NAME, { connection: this.connection });
    await this.queue.waitUntilReady();
  }

  async enqueue(payload: BenchPayload): Promise<void> {
    await this.queue!.add('noop', payload);
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.queue!.addBulk(payloads.map((data) => ({ name: 'noop', data })));
  }

  async startWorkers(concurrency: number, handler: BenchHandler): Promise<void> {
    this.worker = new Worker<BenchPayload>(
      QUEUE_NAME,
      async (job) => {
        handler(job.data);
      },
      { connection: this.connection, concurrency },
    );
    await this.worker.waitUntilReady();
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.close();
  }

  async teardown(): Promise<void> {
    await this.stop();
    const queue = this.queue;
    this.queue = null;
    if (queue) await queue.close();
  }
}
