import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { defineJob, Worker } from '@jqjobs/core';
import { eventually, TestClock } from '@jqjobs/store-test-suite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/index.ts';
import { adminClient, dropPrefix, killConnections, REDIS_URL, requireRedis } from './helpers.ts';

// Real child processes (node with the tsx loader, reading src through the jqjobs-source
// condition), against the real Redis. One process per child, so a SIGKILL really kills it.
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/child.ts', import.meta.url));
const FILE_PREFIX = `jqtest-proc-${process.pid}`;
const admin = adminClient();
const children = new Set<ChildProcess>();
const cleanup: (() => Promise<unknown>)[] = [];
let n = 0;

interface Child {
  proc: ChildProcess;
  lines: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

function child(mode: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', '--conditions=jqjobs-source', CHILD, mode], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, JQ_REDIS_URL: REDIS_URL, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  const lines: string[] = [];
  const stderr: string[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  proc.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      children.delete(proc);
      resolve(code);
    }),
  );
  return { proc, lines, stderr, exited };
}

function setup(): { prefix: string; runsKey: string; store: RedisStore } {
  const prefix = `${FILE_PREFIX}-${++n}`;
  const runsKey = `${prefix}:runs`;
  const store = new RedisStore({ url: REDIS_URL }, { prefix, logger: 'silent' });
  cleanup.push(async () => {
    await store.close();
    await dropPrefix(admin, prefix);
    await admin.del(runsKey);
  });
  return { prefix, runsKey, store };
}

async function expectExactlyOnce(runsKey: string, total: number): Promise<void> {
  const runs = await admin.hgetall(runsKey);
  expect(Object.keys(runs)).toHaveLength(total);
  expect(Object.entries(runs).filter(([, c]) => c !== '1')).toEqual([]);
}

const mpJob = defineJob<{ i: number }>({ name: 'mp-job', run: () => {} });

beforeAll(() => requireRedis());
afterEach(async () => {
  for (const p of children) p.kill('SIGKILL');
  await Promise.all([...children].map((p) => new Promise((r) => p.once('exit', r))));
  for (const fn of cleanup.splice(0)) await fn();
});
afterAll(() => {
  admin.disconnect();
});

describe('several processes', () => {
  it('4 worker processes × concurrency 8 over 10,000 jobs: every job ran exactly once, none left', { timeout: 120_000 }, async () => {
    const { prefix, runsKey, store } = setup();
    const total = 10_000;
    for (let i = 0; i < total; i += 1000) {
      await store.enqueueMany(Array.from({ length: 1000 }, (_, k) => ({ type: mpJob, payload: { i: i + k } })));
    }
    const workers = Array.from({ length: 4 }, (_, w) => child('worker', { PREFIX: prefix, NAME: `${prefix}-w${w}`, RUNS_KEY: runsKey, CONCURRENCY: '8', EXIT_IF_NO_JOBS: '1' }));
    const codes = await Promise.all(workers.map((w) => w.exited));
    expect(codes, workers.map((w) => w.stderr.join('')).join('\n')).toEqual([0, 0, 0, 0]);
    const processed = workers.map((w) => Number(/processed (\d+)/.exec(w.lines.join('\n'))?.[1]));
    expect(processed.reduce((a, b) => a + b, 0)).toBe(total);
    // The processes really shared the work (one that starts late may find nothing left).
    expect(processed.filter((p) => p > 0).length).toBeGreaterThanOrEqual(2);
    await expectExactlyOnce(runsKey, total);
    expect(await store.count()).toBe(0);
  });

  it('4 processes enqueueing one coalesce id at once create one job', { timeout: 60_000 }, async () => {
    const { prefix, store } = setup();
    const startAt = Date.now() + 4000;
    const procs = Array.from({ length: 4 }, () => child('coalesce', { PREFIX: prefix, COALESCE_ID: 'one {and} only: "✓"', START_AT: String(startAt), ENQUEUES: '16' }));
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes, procs.map((p) => p.stderr.join('')).join('\n')).toEqual([0, 0, 0, 0]);
    const results = procs.flatMap((p) => JSON.parse(p.lines.at(-1)!) as { id: string; coalesced: boolean; payload: unknown }[]);
    expect(results).toHaveLength(64);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.filter((r) => !r.coalesced)).toHaveLength(1);
    // Every caller got the stored job, not its own payload.
    const winner = results.find((r) => !r.coalesced)!;
    expect(results.every((r) => JSON.stringify(r.payload) === JSON.stringify(winner.payload))).toBe(true);
    expect(await store.count()).toBe(1);
    expect((await store.getByCoalesceId('one {and} only: "✓"'))?.id).toBe(winner.id);
  });
});

describe('faults', () => {
  it('killing the workers’ Redis connections mid-run: they reconnect and finish every job, none lost, none twice', { timeout: 120_000 }, async () => {
    const { prefix, runsKey, store } = setup();
    const total = 4000;
    await store.enqueueMany(Array.from({ length: total }, (_, i) => ({ type: mpJob, payload: { i } })));
    const names = [0, 1].map((w) => `${prefix}-w${w}`);
    const workers = names.map((name) => child('worker', { PREFIX: prefix, NAME: name, RUNS_KEY: runsKey, CONCURRENCY: '8', JOB_MS: '1', HEARTBEAT: '1' }));
    await eventually(() => workers.every((w) => w.lines.includes('ready')), 'workers ready', 30_000);
    let kills = 0;
    let rounds = 0;
    while ((await admin.hlen(runsKey)) < total * 0.8 && rounds < 40) {
      await new Promise((r) => setTimeout(r, 100));
      for (const name of names) kills += await killConnections(admin, name);
      rounds++;
    }
    expect(kills).toBeGreaterThan(4);
    await eventually(async () => (await admin.hlen(runsKey)) === total && (await store.count()) === 0, 'every job done', 60_000);
    for (const w of workers) w.proc.kill('SIGTERM');
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
    await expectExactlyOnce(runsKey, total);
  });

  it('a worker process killed with SIGKILL mid-job: detectHungJobs brings its job back', { timeout: 60_000 }, async () => {
    const { prefix } = setup();
    const clock = new TestClock();
    const store = new RedisStore({ url: REDIS_URL }, { prefix, clock, logger: 'silent' });
    cleanup.unshift(() => store.close());
    const hang = defineJob<unknown>({ name: 'mp-hang', run: () => {} });
    const job = await store.enqueue(hang, { important: true });
    const w = child('hang', { PREFIX: prefix });
    await eventually(() => w.lines.includes(`started ${job.id}`), 'the child started the job', 30_000);
    w.proc.kill('SIGKILL');
    await w.exited;
    expect(await store.get(job.id)).toMatchObject({ status: 'running', attemptNumber: 1 });
    // Its lease (3 heartbeats of 10 s) has not run out yet.
    expect(await store.detectHungJobs()).toBe(0);
    clock.advance(31_000);
    expect(await store.detectHungJobs()).toBe(1);
    const back = await store.get(job.id);
    expect(back).toMatchObject({ status: 'queued', attemptNumber: 1, maxAttempts: 2 });
    expect(back.errorMessage).toMatch(/hung/);
    const again = new Worker(store, { jobs: [hang], exitIfNoJobs: true, enableJitter: false, logger: 'silent' });
    await again.start();
    expect(again.jobsProcessed).toBe(1);
    expect(await store.count()).toBe(0);
  });
});
