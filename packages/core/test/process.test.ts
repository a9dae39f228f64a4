// runWorkerProcess in this process (exitProcess: false, no signal handlers).
// Signals, exit codes of a real process and module tracking are in
// process-child.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { afterEach, describe, expect, it } from 'vitest';
import { defineJob, InvalidArgumentError, type Logger, runWorkerProcess, type Worker, WorkerExitCode, type WorkerProcessOptions } from '../src/index.ts';
import { FakeStore } from './fixtures/fake-store.ts';

interface Rec {
  level: string;
  msg: string;
  [k: string]: unknown;
}

function capture(): { logger: Logger; records: Rec[]; waitFor(msg: string): Promise<Rec> } {
  const records: Rec[] = [];
  const waiters: (() => void)[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const emit = (level: string) => (obj: Record<string, unknown>, msg?: string) => {
      records.push({ ...bindings, ...obj, level, msg: msg ?? '' });
      for (const w of waiters.splice(0)) w();
    };
    return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), child: (b) => make({ ...bindings, ...b }) };
  };
  const waitFor = (msg: string) =>
    new Promise<Rec>((resolve) => {
      const check = () => {
        const hit = records.find((r) => r.msg === msg);
        if (hit) resolve(hit);
        else waiters.push(check);
      };
      check();
    });
  return { logger: make({}), records, waitFor };
}

const quick: Partial<WorkerProcessOptions> = { exitProcess: false, handleSignals: false, enableJitter: false, watchInterval: 0 };
const noop = defineJob({ name: 'proc-noop', run: () => {} });

const tmpDirs: string[] = [];
afterEach(() => {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const signalCounts = () => ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGABRT', 'uncaughtException', 'unhandledRejection'].map((s) => process.listenerCount(s));

describe('runWorkerProcess (in process)', () => {
  it('rejects bad options with InvalidArgumentError and touches nothing', async () => {
    const store = new FakeStore();
    store.add('proc-noop', {});
    const before = signalCounts();
    const bad: Partial<WorkerProcessOptions>[] = [
      { guaranteeMemoryForJob: -1 },
      { guaranteeMemoryForJob: Number.NaN },
      { adjustPriority: 25 },
      { adjustPriority: 1.5 },
      { watchInterval: -1 },
      { watchFiles: [''] },
      { concurrency: 0 },
      { gracefulShutdownTimeout: -3 },
      { queueName: '' },
    ];
    for (const o of bad) {
      await expect(runWorkerProcess(store, { jobs: [noop], ...o }), JSON.stringify(o)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(runWorkerProcess(store, null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(signalCounts()).toEqual(before);
    expect(store.claims).toBe(0);
    expect(store.closed).toBe(false);
    expect((await store.get('1')).status).toBe('queued');
  });

  it('exits 0 when the worker stops by itself, closes the store and removes its handlers', async () => {
    const store = new FakeStore();
    store.add('proc-noop', {});
    store.add('proc-noop', {});
    const before = signalCounts();
    let seen: Worker | null = null;
    const { logger, records } = capture();
    const code = await runWorkerProcess(store, { ...quick, handleSignals: true, jobs: [noop], exitIfNoJobs: true, logger, onWorker: (w) => (seen = w) });
    expect(code).toBe(WorkerExitCode.Stopped);
    expect(store.closed).toBe(true);
    expect(signalCounts()).toEqual(before);
    expect(seen).not.toBeNull();
    expect(seen!.jobsProcessed).toBe(2);
    const started = records.filter((r) => r.msg === 'job started');
    const completed = records.filter((r) => r.msg === 'job completed');
    expect(started).toHaveLength(2);
    expect(completed).toHaveLength(2);
    expect(started[0]).toMatchObject({ workerId: seen!.id, jobId: '1', type: 'proc-noop', queue: 'default', attempt: 1, status: 'running' });
    expect(completed[0]).toMatchObject({ workerId: seen!.id, jobId: '1', status: 'completed' });
    expect(typeof completed[0]!.durationMs).toBe('number');
    expect(records.at(-1)).toMatchObject({ msg: 'worker process exiting', exitCode: 0, reason: 'no-jobs' });
  });

  it('exits 0 after exitAfterNJobs and leaves the store open with closeStore: false', async () => {
    const store = new FakeStore();
    for (let i = 0; i < 3; i++) store.add('proc-noop', {});
    const code = await runWorkerProcess(store, { ...quick, jobs: [noop], exitAfterNJobs: 2, closeStore: false, logger: 'silent' });
    expect(code).toBe(0);
    expect(store.closed).toBe(false);
    expect((await store.jobs()).map((j) => j.status)).toEqual(['completed', 'completed', 'queued']);
  });

  it('exits 1 before taking a job when the memory guarantee exceeds the heap limit', async () => {
    const store = new FakeStore();
    store.add('proc-noop', {});
    const { logger, records } = capture();
    const limit = v8.getHeapStatistics().heap_size_limit;
    const code = await runWorkerProcess(store, { ...quick, jobs: [noop], guaranteeMemoryForJob: limit + 1, logger });
    expect(code).toBe(WorkerExitCode.OutOfMemory);
    expect(store.claims).toBe(0);
    expect(await store.get('1')).toMatchObject({ status: 'queued', attemptNumber: 0 });
    expect(records.some((r) => r.msg.includes('not enough free memory'))).toBe(true);
  });

  it('exits 2 after the in-flight job when a watched file changes, leaving the next job queued', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jq-proc-'));
    tmpDirs.push(dir);
    const file = path.join(dir, 'config.json');
    writeFileSync(file, '{}');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const block = defineJob({ name: 'proc-block', run: () => gate });
    const store = new FakeStore();
    store.add('proc-block', {});
    store.add('proc-block', {});
    const { logger, waitFor } = capture();
    const running = runWorkerProcess(store, { ...quick, jobs: [block], watchInterval: 0.05, watchFiles: [file], logger });
    await waitFor('job started');
    writeFileSync(file, '{"changed":true}');
    const rec = await waitFor('source file changed on disk: stopping after the in-flight jobs to restart');
    expect(rec.file).toBe(file);
    release();
    expect(await running).toBe(WorkerExitCode.CodeChanged);
    expect((await store.jobs()).map((j) => j.status)).toEqual(['completed', 'queued']);
    expect(store.settles).toHaveLength(1);
  });

  it('does not start a job claimed by a settle that was in flight when the worker was told to stop', async () => {
    const store = new FakeStore();
    store.add('proc-noop', {});
    store.add('proc-noop', {});
    const realSettle = store.settle.bind(store);
    let worker: Worker | null = null;
    store.settle = async (claim, outcome, next) => {
      worker!.stop();
      return realSettle(claim, outcome, next);
    };
    const code = await runWorkerProcess(store, { ...quick, jobs: [noop], logger: 'silent', onWorker: (w) => (worker = w) });
    expect(code).toBe(WorkerExitCode.Stopped);
    expect((await store.jobs()).map((j) => [j.status, j.attemptNumber])).toEqual([
      ['completed', 1],
      ['queued', 0],
    ]);
  });

  it('logs job descriptions and passes the real store to jobs', async () => {
    const store = new FakeStore();
    store.add('proc-described', { to: 'a@example.com' });
    let seenStore: unknown = null;
    const described = defineJob<{ to: string }>({
      name: 'proc-described',
      description: (p) => `email to ${p.to}`,
      run: (_p, ctx) => {
        seenStore = ctx.store;
      },
    });
    const { logger, records } = capture();
    expect(await runWorkerProcess(store, { ...quick, jobs: [described], exitIfNoJobs: true, logger })).toBe(0);
    expect(records.find((r) => r.msg === 'job started')).toMatchObject({ description: 'email to a@example.com' });
    expect(records.find((r) => r.msg === 'job completed')).toMatchObject({ description: 'email to a@example.com' });
    expect(typeof (seenStore as FakeStore).add).toBe('function');
  });

  it('treats a watched file that appears later as a change', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'jq-proc-'));
    tmpDirs.push(dir);
    const file = path.join(dir, 'restart.txt');
    const store = new FakeStore();
    const { logger, waitFor } = capture();
    const running = runWorkerProcess(store, { ...quick, jobs: [noop], watchInterval: 0.05, watchFiles: [file], logger });
    await waitFor('worker started');
    writeFileSync(file, 'now');
    expect(await running).toBe(WorkerExitCode.CodeChanged);
  });
});
