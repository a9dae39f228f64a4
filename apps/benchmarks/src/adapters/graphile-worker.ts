import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from 'graphile-worker';
import type { BenchHandler, BenchPayload, QueueAdapter, Target } from './types.ts';

const TASK = 'bench_noop';
const silent = new Logger(() => () => {});

/**
 * graphile-worker with its defaults: `run()` with a task list and concurrency 10,
 * default pool (10 connections), pollInterval 2000 ms plus LISTEN/NOTIFY, no local
 * queue, no complete/fail batching. `noHandleSignals` only because the harness owns the process.
 */
export class GraphileWorkerAdapter implements QueueAdapter {
  readonly name = 'graphile-worker' as const;
  readonly backend = 'postgres' as const;
  private utils: WorkerUtils | null = null;
  private runner: Runner | null = null;

  constructor(private readonly target: Target) {}

  async setup(): Promise<void> {
    this.utils = await makeWorkerUtils({ connectionString: this.target.pgUrl, logger: silent });
    await this.utils.migrate();
  }

  async enqueue(payload: BenchPayload): Promise<void> {
    await this.utils!.addJob(TASK, payload);
  }

  async enqueueBulk(payloads: readonly BenchPayload[]): Promise<void> {
    await this.utils!.addJobs(payloads.map((payload) => ({ identifier: TASK, payload })));
  }

  async startWorkers(concurrency: number, handler: BenchHandler): Promise<void> {
    this.runner = await run({
      connectionString: this.target.pgUrl,
      concurrency,
      noHandleSignals: true,
      logger: silent,
      taskList: {
        [TASK]: async (payload) => {
          handler(payload as BenchPayload);
        },
      },
    });
  }

  async stop(): Promise<void> {
    const runner = this.runner;
    this.runner = null;
    if (runner) await runner.stop();
  }

  async teardown(): Promise<void> {
    await this.stop();
    const utils = this.utils;
    this.utils = null;
    if (utils) await utils.release();
  }
}
