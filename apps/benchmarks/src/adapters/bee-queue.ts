import BeeQueue from 'bee-queue';
import { QUEUE_NAME, type BenchHandler, type BenchPayload, type QueueAdapter, type Target } from './types.ts';

/**
 * Bee-Queue with its defaults for the worker queue, and the producer settings its
 * README recommends for a queue that only creates jobs (`isWorker: false, getEvents: false`).
 */
export class BeeQueueAdapter implements QueueAdapter {
  readonly name = 'bee-queue' as const;
  readonly backend = 'redis' as const;
  private producer: BeeQueue<BenchPayload> | null = null;
  private worker: BeeQueue<BenchPayload> | null = null;

  constructor(private readonly target: Target) {}

  private get redis() {
    const { host, port, db } = this.target.redis;
    return { host, port, db };
  }

  async setup(): Promise<void> {
    this.producer = new BeeQueue<BenchPayload>(QUEUE_NAME, { redis: this.redis, isWorker: false, getEvents: false });
    await this.producer.ready();
  }

  async enqueue(payload: BenchPayload): Promise<void> {
    await this.producer!.createJob(payload).save();
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    const producer = this.producer!;
    const errors = await producer.saveAll(payloads.map((p) => producer.createJob(p)));
    if (errors.size > 0) throw new Error(`bee-queue saveAll: ${errors.size} jobs failed: ${String([...errors.values()][0])}`);
  }

  async startWorkers(concurrency: number, handler: BenchHandler): Promise<void> {
    this.worker = new BeeQueue<BenchPayload>(QUEUE_NAME, { redis: this.redis });
    await this.worker.ready();
    this.worker.process(concurrency, async (job: BeeQueue.Job<BenchPayload>) => {
      handler(job.data);
    });
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.close(5000);
  }

  async teardown(): Promise<void> {
    await this.stop();
    const producer = this.producer;
    this.producer = null;
    if (producer) await producer.close(5000);
  }
}
