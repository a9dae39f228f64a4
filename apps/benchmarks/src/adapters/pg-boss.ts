import PgBoss from 'pg-boss';
import { QUEUE_NAME, type BenchHandler, type BenchPayload, type QueueAdapter, type Target } from './types.ts';

/**
 * pg-boss v10 with its defaults. v10 has no teamSize: one `work()` loop fetches
 * `batchSize` jobs per poll and hands them to the handler as an array, so
 * `batchSize: 10` with the jobs run side by side is its concurrency 10. The loop
 * waits `pollingIntervalSeconds` (default 2) between fetches even when a fetch
 * returned jobs, so its throughput is bounded by batchSize / pollingInterval.
 */
export class PgBossAdapter implements QueueAdapter {
  readonly name = 'pg-boss' as const;
  readonly backend = 'postgres' as const;
  private boss: PgBoss | null = null;
  readonly errors: Error[] = [];

  constructor(private readonly target: Target) {}

  async setup(): Promise<void> {
    const boss = new PgBoss({ connectionString: this.target.pgUrl });
    boss.on('error', (err) => this.errors.push(err));
    await boss.start();
    this.boss = boss;
    if (!(await boss.getQueue(QUEUE_NAME))) await boss.createQueue(QUEUE_NAME);
  }

  async enqueue(payload: BenchPayload): Promise<void> {
    await this.boss!.send(QUEUE_NAME, payload);
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.boss!.insert(payloads.map((data) => ({ name: QUEUE_NAME, data })));
  }

  async startWorkers(concurrency: number, handler: BenchHandler): Promise<void> {
    await this.boss!.work<BenchPayload>(QUEUE_NAME, { batchSize: concurrency }, async (jobs) => {
      await Promise.all(jobs.map(async (job) => handler(job.data)));
    });
  }

  async stop(): Promise<void> {
    if (this.boss) await this.boss.offWork(QUEUE_NAME);
  }

  async teardown(): Promise<void> {
    const boss = this.boss;
    this.boss = null;
    if (boss) await boss.stop({ graceful: true, wait: true, timeout: 5000 });
  }
}
