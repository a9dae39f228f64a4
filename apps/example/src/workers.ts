// Where jobs run. On the memory store the Worker must live in the web process:
// a MemoryStore is one process's memory, so another process would see no jobs.
// On PostgreSQL and Redis the web process forks worker.ts and restarts it when it
// exits, as a process supervisor would in production.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Store, Worker } from '@jqjobs/core';
import { QUEUES, type ShopJobs } from './jobs.ts';
import type { Timeline, TimelineEvent } from './timeline.ts';

export interface RunningWorkers {
  /** For the logs. */
  label: string;
  /** Finishes the jobs in flight (up to a few seconds), then stops. */
  stop(): Promise<void>;
}

export function startInlineWorker(store: Store, jobs: ShopJobs, concurrency: number): RunningWorkers {
  // One worker in one process: no fleet to de-synchronise, so no start-up jitter.
  const worker = new Worker(store, { jobs: jobs.all, queueName: QUEUES, concurrency, enableJitter: false });
  const running = worker.start();
  return {
    label: `in this process (concurrency ${concurrency})`,
    async stop() {
      await worker.shutdown(5);
      await running;
    },
  };
}

export interface WorkerProcessOptions {
  env: NodeJS.ProcessEnv;
  timeline: Timeline;
  /** Node flags for the child; by default this process's own (so a tsx loader carries over). */
  execArgv?: string[];
}

const EXIT_REASONS: Record<number, string> = { 0: 'stopped', 1: 'low on memory', 2: 'its source code changed', 3: 'stopped with jobs interrupted', 64: 'misconfigured', 70: 'crashed' };

export function startWorkerProcess(options: WorkerProcessOptions): RunningWorkers {
  // worker.ts under tsx, worker.js once compiled.
  const script = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url));
  let child: ChildProcess | null = null;
  let stopping = false;
  let restarts = 0;
  let restartTimer: NodeJS.Timeout | null = null;
  let exited: Promise<void> = Promise.resolve();

  const spawn = () => {
    const startedAt = Date.now();
    const proc = fork(script, [], { env: options.env, execArgv: options.execArgv ?? process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child = proc;
    proc.on('message', (event: TimelineEvent) => options.timeline.add(event));
    exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        child = null;
        resolve();
        if (stopping) return;
        const why = code !== null ? (EXIT_REASONS[code] ?? `exit code ${code}`) : `signal ${signal}`;
        // A process that keeps dying at once (bad settings, database down) is
        // restarted ever more slowly; one that ran for a while, at once.
        restarts = Date.now() - startedAt > 10_000 ? 0 : restarts + 1;
        const delay = code === 2 ? 0 : Math.min(250 * 2 ** restarts, 10_000);
        options.timeline.note('worker', `worker process ${proc.pid} exited (${why}); restarting in ${delay} ms`);
        restartTimer = setTimeout(spawn, delay);
      });
    });
    options.timeline.note('worker', `worker process ${proc.pid} started`);
  };
  spawn();

  return {
    label: 'a separate process (worker.ts, runWorkerProcess)',
    async stop() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      const proc = child;
      if (!proc) return;
      proc.kill('SIGTERM'); // graceful: in-flight jobs get 5 s, then are retried elsewhere
      const killer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
