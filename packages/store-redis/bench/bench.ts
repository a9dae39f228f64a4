/**
 * RedisStore benchmark: prints our numbers for every scenario of the store-redis
 * issue (medians of several runs). Run with `pnpm bench`. It starts a private
 * redis-server (from PATH) on a free loopback port, so that the command and memory
 * counts read from INFO are ours alone; set JQ_REDIS_URL to use another server
 * (each run then uses its own key prefix and deletes it). BENCH_RUNS, default 5.
 */
import { performance } from 'node:perf_hooks';
import { defineJob, type JobDefinition, Worker } from '@jqjobs/core';
import { Redis } from 'ioredis';
import { RedisStore } from '../src/index.ts';
import { startRedisServer } from '../test/helpers.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const server = process.env.JQ_REDIS_URL ? null : await startRedisServer();
const URL = process.env.JQ_REDIS_URL ?? server!.url;
const admin = new Redis(URL, { connectionName: 'jqjobs-bench-admin' });
let seq = 0;

const noop = defineJob<{ i: number }>({ name: 'bench-noop', run: () => {} });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function info(section: string, field: string): Promise<number> {
  const text = await admin.info(section);
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

async function drop(prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await admin.unlink(...keys);
  } while (cursor !== '0');
}

async function withStore<T>(fn: (store: RedisStore) => Promise<T>): Promise<T> {
  const prefix = `jqbench-${process.pid}-${++seq}`;
  const store = new RedisStore({ url: URL }, { prefix, logger: 'silent' });
  try {
    return await fn(store);
  } finally {
    await store.close();
    await drop(prefix);
  }
}

async function fill(store: RedisStore, n: number, job: JobDefinition<{ i: number }> = noop): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    await store.enqueueMany(Array.from({ length: Math.min(1000, n - i) }, (_, k) => ({ type: job, payload: { i: i + k } })));
  }
}

/** jobs/s enqueueing one at a time, each awaited. */
async function enqueueSerial(n = 3000): Promise<number> {
  return withStore(async (store) => {
    await store.enqueue(noop, { i: -1 });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await store.enqueue(noop, { i });
    return n / ((performance.now() - t0) / 1000);
  });
}

/** jobs/s with `inflight` enqueues outstanding at any time. */
async function enqueueInFlight(n = 20_000, inflight = 100): Promise<number> {
  return withStore(async (store) => {
    await store.enqueue(noop, { i: -1 });
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (next < n) await store.enqueue(noop, { i: next++ });
      }),
    );
    return n / ((performance.now() - t0) / 1000);
  });
}

/** jobs/s through enqueueMany in batches of `batch`. */
async function enqueueMany(n = 50_000, batch = 1000): Promise<number> {
  return withStore(async (store) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i += batch) {
      await store.enqueueMany(Array.from({ length: Math.min(batch, n - i) }, (_, k) => ({ type: noop, payload: { i: i + k } })));
    }
    return n / ((performance.now() - t0) / 1000);
  });
}

/** Processing `n` queued no-op jobs with one worker at `concurrency`: jobs/s and Redis commands per job. */
async function processing(n = 20_000, concurrency = 10): Promise<{ rate: number; commands: number }> {
  return withStore(async (store) => {
    await fill(store, n);
    const w = new Worker(store, { jobs: [noop], concurrency, exitIfNoJobs: true, enableJitter: false, logger: 'silent', detectHungJobsEvery: 0 });
    const c0 = await info('stats', 'total_commands_processed');
    const t0 = performance.now();
    await w.start();
    const dt = performance.now() - t0;
    const c1 = await info('stats', 'total_commands_processed');
    if (w.jobsProcessed !== n) throw new Error(`processed ${w.jobsProcessed} of ${n}`);
    // One INFO call of ours falls inside the window.
    return { rate: n / (dt / 1000), commands: (c1 - c0 - 1) / n };
  });
}

/** Time from just before `enqueue` to `run` starting, for an idle worker: p50/p95/p99 in ms. */
async function pickup(samples = 300): Promise<{ p50: number; p95: number; p99: number }> {
  return withStore(async (store) => {
    let started: (() => void) | null = null;
    const job = defineJob<{ i: number }>({ name: 'bench-pickup', run: () => started?.() });
    const w = new Worker(store, { jobs: [job], concurrency: 1, enableJitter: false, logger: 'silent', wakeupEvery: 60, detectHungJobsEvery: 0 });
    const done = w.start();
    const lat: number[] = [];
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < samples + 20; i++) {
      // Let the worker go back to its blocking wait.
      await new Promise((r) => setTimeout(r, 15));
      const ran = new Promise<void>((r) => (started = r));
      const t0 = performance.now();
      await store.enqueue(job, { i });
      await ran;
      if (i >= 20) lat.push(performance.now() - t0);
    }
    w.stop();
    await done;
    return { p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99) };
  });
}

/** Redis memory per waiting job (INFO used_memory delta), payload `{"i":<n>}`. */
async function memory(n = 100_000): Promise<number> {
  return withStore(async (store) => {
    await store.enqueue(noop, { i: -1 });
    const m0 = await info('memory', 'used_memory');
    await fill(store, n);
    const m1 = await info('memory', 'used_memory');
    return (m1 - m0) / n;
  });
}

async function main(): Promise<void> {
  const version = /^redis_version:(\S+)/m.exec(await admin.info('server'))?.[1];
  const where = server ? `a private redis-server at ${URL}` : URL;
  console.log(`RedisStore bench · Redis ${version}, ${where} · Node ${process.version} · ${RUNS} runs, medians\n`);
  const rows: [string, string, string][] = [];
  const run = async <T>(fn: () => Promise<T>): Promise<T[]> => {
    const out: T[] = [];
    for (let i = 0; i < RUNS; i++) out.push(await fn());
    return out;
  };
  const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

  const serial = await run(() => enqueueSerial());
  rows.push(['enqueue, one at a time', `${fmt(median(serial))} jobs/s`, '']);
  const inflight = await run(() => enqueueInFlight());
  rows.push(['enqueue, 100 in flight', `${fmt(median(inflight))} jobs/s`, '']);
  const many = await run(() => enqueueMany());
  rows.push(['enqueueMany (batches of 1,000)', `${fmt(median(many))} jobs/s`, '']);
  const proc = await run(() => processing());
  rows.push(['process 20,000 no-op jobs, concurrency 10', `${fmt(median(proc.map((p) => p.rate)))} jobs/s`, '']);
  rows.push(['Redis commands per processed job', fmt(median(proc.map((p) => p.commands)), 2), 'target ≤ 10']);
  const pick = await run(() => pickup());
  rows.push(['pickup latency p50 (idle worker)', `${fmt(median(pick.map((p) => p.p50)), 2)} ms`, 'target < 1 ms']);
  rows.push(['pickup latency p95', `${fmt(median(pick.map((p) => p.p95)), 2)} ms`, '']);
  rows.push(['pickup latency p99', `${fmt(median(pick.map((p) => p.p99)), 2)} ms`, 'target < 5 ms']);
  const mem = await run(() => memory());
  rows.push(['Redis memory per waiting job', `${fmt(median(mem))} bytes`, 'target < 200']);

  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    admin.disconnect();
    await server?.stop();
  });
