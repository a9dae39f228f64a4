/**
 * The scenarios, identical for every adapter. Each runs in a fresh target (a new
 * database, or a flushed Redis db) that `runMeasurement` makes and removes.
 */
import os from 'node:os';
import { createAdapter } from './adapters/index.ts';
import { BACKEND, type AdapterName, type BenchPayload, type QueueAdapter, type Target } from './adapters/types.ts';
import { DB_PREFIX, PgAdmin, RedisAdmin, procCpuSeconds, redisBaseUrl, type RedisCounters } from './services.ts';
import { percentile } from './stats.ts';

export const SCENARIOS = ['enqueue-serial', 'enqueue-10', 'enqueue-100', 'enqueue-bulk', 'drain', 'latency'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Params {
  /** Jobs per enqueue-one-per-call scenario. */
  enqueueN: number;
  /** Jobs in the bulk scenario, enqueued in chunks of `bulkChunk`. */
  bulkN: number;
  bulkChunk: number;
  /** Pre-filled jobs the worker drains. */
  drainN: number;
  /** Jobs in flight in the worker process. */
  concurrency: number;
  /** Pickup-latency samples, arriving at `latencyRate` per second. */
  latencyN: number;
  latencyRate: number;
  /** A scenario stops at this time box and reports the rate it reached. */
  timeboxMs: number;
}

export type MeasurementStatus = 'ok' | 'error';

export interface Measurement {
  adapter: AdapterName;
  scenario: ScenarioName;
  status: MeasurementStatus;
  error?: string;
  /** Named numbers; see each scenario for the keys. */
  metrics: Record<string, number>;
  /** Per-command Redis call deltas per processed job (drain), for diagnosis. */
  redisCommands?: Record<string, number>;
  notes: string[];
  /** The host's 1-minute load average when the measurement started (2 cores: above 2 means queued work). */
  loadAvg: number;
}

/** The warm-up before a timed enqueue loop: connections open, code paths compiled. */
const ENQUEUE_WARMUP = 50;

let seq = 0;

/** Runs one scenario against one adapter in a fresh target, and removes the target afterwards. */
export async function runMeasurement(adapter: AdapterName, scenario: ScenarioName, params: Params, redisDb: number): Promise<Measurement> {
  const backend = BACKEND[adapter];
  const m: Measurement = { adapter, scenario, status: 'ok', metrics: {}, notes: [], loadAvg: os.loadavg()[0]! };
  const pgAdmin = backend === 'postgres' ? await PgAdmin.connect() : null;
  const redisAdmin = backend === 'redis' ? await RedisAdmin.connect(redisDb) : null;
  const dbName = `${DB_PREFIX}${process.pid}_${seq++}`;
  const live = new Set<QueueAdapter>();
  try {
    const pgUrl = pgAdmin ? await pgAdmin.createDatabase(dbName) : '';
    if (redisAdmin) await redisAdmin.flush();
    const target: Target = {
      pgUrl,
      redis: redisAdmin?.target() ?? { host: '127.0.0.1', port: 6379, db: redisDb, url: redisBaseUrl() },
    };
    const ctx: Ctx = {
      params,
      pgAdmin,
      redisAdmin,
      dbName,
      m,
      async open() {
        const a = await createAdapter(adapter, target);
        live.add(a);
        await a.setup();
        return a;
      },
      async close(a) {
        live.delete(a);
        await a.teardown();
        // Backends flush their statistics when they exit; the counters are read after that.
        if (pgAdmin && !(await pgAdmin.waitNoBackends(dbName))) m.notes.push('sessions still connected 10 s after teardown');
      },
    };
    await SCENARIO_RUNNERS[scenario](ctx);
  } catch (err) {
    m.status = 'error';
    m.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  } finally {
    for (const a of live) await a.teardown().catch(() => {});
    if (pgAdmin) {
      await pgAdmin.dropDatabase(dbName).catch((err: unknown) => m.notes.push(`could not drop ${dbName}: ${String(err)}`));
      await pgAdmin.close();
    }
    if (redisAdmin) {
      await redisAdmin.flush().catch(() => {});
      await redisAdmin.close();
    }
  }
  return m;
}

interface Ctx {
  params: Params;
  pgAdmin: PgAdmin | null;
  redisAdmin: RedisAdmin | null;
  dbName: string;
  m: Measurement;
  /** A new adapter instance on the measurement's target, set up. */
  open(): Promise<QueueAdapter>;
  /** Tears the instance down and waits until its database sessions are gone. */
  close(a: QueueAdapter): Promise<void>;
}

const SCENARIO_RUNNERS: Record<ScenarioName, (ctx: Ctx) => Promise<void>> = {
  'enqueue-serial': (ctx) => enqueueInFlight(ctx, 1),
  'enqueue-10': (ctx) => enqueueInFlight(ctx, 10),
  'enqueue-100': (ctx) => enqueueInFlight(ctx, 100),
  'enqueue-bulk': enqueueBulk,
  drain,
  latency,
};

const payload = (i: number): BenchPayload => ({ i, t: performance.now() });

/** Metrics: `jobsPerSec`, `jobs`. */
async function enqueueInFlight(ctx: Ctx, inFlight: number): Promise<void> {
  const a = await ctx.open();
  for (let i = 0; i < ENQUEUE_WARMUP; i++) await a.enqueue(payload(-1 - i));
  const n = ctx.params.enqueueN;
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + ctx.params.timeboxMs;
  const lane = async () => {
    while (next < n && performance.now() < deadline) {
      const i = next++;
      await a.enqueue(payload(i));
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const elapsed = performance.now() - t0;
  ctx.m.metrics['jobsPerSec'] = (done / elapsed) * 1000;
  ctx.m.metrics['jobs'] = done;
  if (done < n) ctx.m.notes.push(`time box: ${done} of ${n} jobs`);
  await ctx.close(a);
}

async function bulkFill(a: QueueAdapter, n: number, chunk: number, deadline = Number.POSITIVE_INFINITY): Promise<number> {
  let done = 0;
  while (done < n && performance.now() < deadline) {
    const size = Math.min(chunk, n - done);
    await a.enqueueBulk(Array.from({ length: size }, (_, k) => payload(done + k)));
    done += size;
  }
  return done;
}

/** Metrics: `jobsPerSec`, `jobs`. */
async function enqueueBulk(ctx: Ctx): Promise<void> {
  const a = await ctx.open();
  await bulkFill(a, ctx.params.bulkChunk, ctx.params.bulkChunk);
  const t0 = performance.now();
  const done = await bulkFill(a, ctx.params.bulkN, ctx.params.bulkChunk, t0 + ctx.params.timeboxMs);
  const elapsed = performance.now() - t0;
  ctx.m.metrics['jobsPerSec'] = (done / elapsed) * 1000;
  ctx.m.metrics['jobs'] = done;
  if (done < ctx.params.bulkN) ctx.m.notes.push(`time box: ${done} of ${ctx.params.bulkN} jobs`);
  await ctx.close(a);
}

interface Counts {
  walLsn?: bigint;
  xactCommit?: number;
  xactRollback?: number;
  redis?: RedisCounters;
  redisOwnCalls?: number;
}

async function counts(ctx: Ctx): Promise<Counts> {
  const c: Counts = {};
  if (ctx.pgAdmin) {
    c.walLsn = await ctx.pgAdmin.walLsn();
    const x = await ctx.pgAdmin.xacts(ctx.dbName);
    c.xactCommit = x.commit;
    c.xactRollback = x.rollback;
  }
  if (ctx.redisAdmin) {
    c.redis = await ctx.redisAdmin.counters();
    c.redisOwnCalls = ctx.redisAdmin.ownCalls;
  }
  return c;
}

/** CPU seconds of the database server work done for this measurement: its own backends (Postgres) or the redis-server process. */
async function serverCpu(ctx: Ctx): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (ctx.pgAdmin) {
    for (const pid of await ctx.pgAdmin.backendPids(ctx.dbName)) {
      const s = procCpuSeconds(pid);
      if (s !== null) out.set(String(pid), s);
    }
  }
  if (ctx.redisAdmin) out.set('redis', (await ctx.redisAdmin.counters()).cpuSeconds);
  return out;
}

function cpuDelta(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  // A backend that did not exist before started during the window: all of its CPU counts.
  for (const [key, v] of after) total += v - (before.get(key) ?? 0);
  return total;
}

/**
 * Metrics: `jobsPerSec` (first handler start → N-th handler start), `jobs`,
 * `workerCpuUsPerJob` (process.cpuUsage of this process), `serverCpuUsPerJob`,
 * `bytesPerWaitingJob` (Redis used_memory / pg_database_size growth by the pre-fill),
 * `walBytesPerJob`, `xactsPerJob` (Postgres), `redisCallsPerJob` (Redis).
 */
async function drain(ctx: Ctx): Promise<void> {
  const { drainN: n, concurrency, bulkChunk, timeboxMs } = ctx.params;
  let a = await ctx.open();
  const size0 = await storageBytes(ctx);
  await bulkFill(a, n, bulkChunk);
  const size1 = await storageBytes(ctx);
  if (size0 !== null && size1 !== null) ctx.m.metrics['bytesPerWaitingJob'] = (size1 - size0) / n;
  if (a.backend !== 'memory') {
    // A separate worker instance, as in production: the producer's sessions are
    // closed so their statistics are flushed before the window opens.
    await ctx.close(a);
    a = await ctx.open();
  }
  const before = await counts(ctx);

  let processed = 0;
  let first = 0;
  let last = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const cpu0 = process.cpuUsage();
  const server0 = await serverCpu(ctx);
  const started = performance.now();
  await a.startWorkers(concurrency, () => {
    const now = performance.now();
    if (processed === 0) first = now;
    processed++;
    last = now;
    if (processed === n) resolveDone();
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([done.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeboxMs)))]);
  clearTimeout(timer);
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const server1 = await serverCpu(ctx);
  const jobs = processed;
  await ctx.close(a);
  const after = await counts(ctx);

  if (jobs === 0) throw new Error(`drain: no job ran within ${timeboxMs} ms`);
  // With a time box the window runs to the deadline, so a slow queue is not flattered by its last burst.
  const windowMs = timedOut ? end - first : last - first;
  ctx.m.metrics['jobsPerSec'] = jobs > 1 && windowMs > 0 ? ((jobs - 1) / windowMs) * 1000 : Number.NaN;
  ctx.m.metrics['jobs'] = jobs;
  ctx.m.metrics['startupMs'] = first - started;
  ctx.m.metrics['timedOut'] = timedOut ? 1 : 0;
  if (timedOut) ctx.m.notes.push(`time box: ${jobs} of ${n} jobs in ${Math.round(timeboxMs / 1000)} s`);
  ctx.m.metrics['workerCpuUsPerJob'] = (cpu.user + cpu.system) / jobs;
  if (server0.size > 0 || server1.size > 0) ctx.m.metrics['serverCpuUsPerJob'] = (cpuDelta(server0, server1) * 1e6) / jobs;
  if (before.walLsn !== undefined && after.walLsn !== undefined) {
    ctx.m.metrics['walBytesPerJob'] = Number(after.walLsn - before.walLsn) / jobs;
    ctx.m.metrics['xactsPerJob'] = (after.xactCommit! + after.xactRollback! - before.xactCommit! - before.xactRollback!) / jobs;
  }
  if (before.redis && after.redis) {
    const own = after.redisOwnCalls! - before.redisOwnCalls!;
    ctx.m.metrics['redisCallsPerJob'] = (after.redis.calls - before.redis.calls - own) / jobs;
    const perCommand: Record<string, number> = {};
    for (const [cmd, calls] of after.redis.byCommand) {
      const d = calls - (before.redis.byCommand.get(cmd) ?? 0) - (cmd === 'info' ? own : 0);
      if (d > 0) perCommand[cmd] = d / jobs;
    }
    ctx.m.redisCommands = perCommand;
  }
}

async function storageBytes(ctx: Ctx): Promise<number | null> {
  if (ctx.pgAdmin) return ctx.pgAdmin.databaseSize(ctx.dbName);
  if (ctx.redisAdmin) return (await ctx.redisAdmin.counters()).usedMemory;
  return null;
}

/** Metrics: `p50Ms`, `p95Ms`, `p99Ms`, `maxMs`, `samples` — enqueue-call start → handler start, idle worker, steady arrivals. */
async function latency(ctx: Ctx): Promise<void> {
  const { latencyN: n, latencyRate, concurrency } = ctx.params;
  const a = await ctx.open();
  const samples: number[] = [];
  let warm: (() => void) | null = null;
  let allIn: (() => void) | null = null;
  await a.startWorkers(concurrency, (p) => {
    const now = performance.now();
    if (p.i < 0) {
      warm?.();
      return;
    }
    samples.push(now - p.t);
    if (samples.length === n) allIn?.();
  });
  // One job through the whole path first: the worker is connected and listening when sampling starts.
  const warmed = new Promise<void>((r) => (warm = r));
  await a.enqueue(payload(-1));
  await withTimeout(warmed, 15_000, 'latency warm-up job did not run within 15 s');
  await sleep(500);

  const collected = new Promise<void>((r) => (allIn = r));
  const period = 1000 / latencyRate;
  const t0 = performance.now() + 20;
  const calls: Promise<void>[] = [];
  for (let k = 0; k < n; k++) {
    const wait = t0 + k * period - performance.now();
    if (wait > 0) await sleep(wait);
    calls.push(a.enqueue(payload(k)));
  }
  await Promise.all(calls);
  await withTimeout(collected, 10_000, '').catch(() => ctx.m.notes.push(`only ${samples.length} of ${n} samples arrived`));
  if (samples.length === 0) throw new Error('latency: no sample arrived');
  ctx.m.metrics['p50Ms'] = percentile(samples, 50);
  ctx.m.metrics['p95Ms'] = percentile(samples, 95);
  ctx.m.metrics['p99Ms'] = percentile(samples, 99);
  ctx.m.metrics['maxMs'] = Math.max(...samples);
  ctx.m.metrics['samples'] = samples.length;
  await ctx.close(a);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
