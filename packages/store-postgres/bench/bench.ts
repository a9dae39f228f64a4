/**
 * PostgresStore benchmark: prints our numbers for every scenario of the store
 * issue (medians over several runs). Runs against JQ_PG_URL in a throwaway
 * database it creates and drops.
 *
 *   pnpm --filter @jqjobs/store-postgres bench            # everything
 *   BENCH_ONLY=drain,pickup pnpm … bench                 # a subset
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { defineJob, type EnqueueItem, Worker } from '@jqjobs/core';
import pg from 'pg';
import { PostgresStore } from '../src/index.ts';
import { createTestDatabase, PG_URL } from '../test/helpers.ts';

const ONLY = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
const want = (name: string) => ONLY.size === 0 || ONLY.has(name);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const noop = defineJob<{ i: number }>({ name: 'bench-noop', run: () => {} });
let pickupResolve: ((t: number) => void) | null = null;
const probe = defineJob<{ i: number }>({
  name: 'bench-probe',
  run: () => {
    pickupResolve?.(performance.now());
  },
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Busy and total jiffies of the whole host, from /proc/stat. */
function hostCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3]! + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux

/** CPU time (µs) used so far by the server processes serving database `db` (read from /proc: this host only). */
async function backendCpuUs(pool: pg.Pool, db: string): Promise<number> {
  const pids = (await pool.query<{ pid: number }>('select pid from pg_stat_activity where datname = $1', [db])).rows.map((r) => r.pid);
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // exited meanwhile
    }
  }
  return ticks * TICK_US;
}

/** Bytes of full-page images in a WAL range (pg_walinspect), or null when the extension is unavailable. */
async function walFpiBytes(pool: pg.Pool, from: string): Promise<number | null> {
  try {
    const r = await pool.query<{ f: string }>('select coalesce(sum(fpi_size), 0)::float8 as f from pg_get_wal_stats($1::pg_lsn, pg_current_wal_flush_lsn())', [from]);
    return Number(r.rows[0]!.f);
  } catch {
    return null;
  }
}

async function walLsn(pool: pg.Pool): Promise<string> {
  return (await pool.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l')).rows[0]!.l;
}
async function walBytes(pool: pg.Pool, from: string): Promise<number> {
  return Number((await pool.query<{ d: string }>('select pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::float8 as d', [from])).rows[0]!.d);
}

const results: { scenario: string; value: string; target?: string }[] = [];
function report(scenario: string, value: string, target?: string) {
  results.push(target === undefined ? { scenario, value } : { scenario, value, target });
  console.log(`  ${scenario}: ${value}${target ? `   (target ${target})` : ''}`);
}

async function main() {
  const db = await createTestDatabase('bench');
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const store = new PostgresStore({ connectionString: db.url }, { logger: 'error' });
  await store.migrate();
  await pool.query('create extension if not exists pg_walinspect').catch(() => undefined);
  const T = `"${store.schema}"."${store.table}"`;
  const truncate = async () => {
    await pool.query(`truncate ${T}`);
    await pool.query(`vacuum analyze ${T}`);
  };
  const items = (n: number, type = noop): EnqueueItem[] => Array.from({ length: n }, (_, i) => ({ type, payload: { i } }));
  console.log(`PostgresStore bench — ${PG_URL.replace(/\/\/[^@]*@/, '//')} (database ${db.name}), median of ${RUNS} runs unless noted`);
  try {
    if (want('enqueueMany')) {
      const rates: number[] = [];
      const wal: number[] = [];
      const fpi: number[] = [];
      const pgCpu: number[] = [];
      const nodeCpu: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        await truncate();
        const batch = items(20_000);
        const lsn = await walLsn(pool);
        const b0 = await backendCpuUs(pool, db.name);
        const p0 = process.cpuUsage();
        const t0 = performance.now();
        await store.enqueueMany(batch);
        const ms = performance.now() - t0;
        const p1 = process.cpuUsage(p0);
        pgCpu.push(((await backendCpuUs(pool, db.name)) - b0) / 20_000);
        nodeCpu.push((p1.user + p1.system) / 20_000);
        wal.push((await walBytes(pool, lsn)) / 20_000);
        fpi.push(((await walFpiBytes(pool, lsn)) ?? NaN) / 20_000);
        rates.push(20_000 / (ms / 1000));
      }
      report('enqueueMany(20,000)', `${fmt(median(rates))} jobs/s`, '≥ 100,800 jobs/s (1.2 × graphile-worker 84,000)');
      report('  CPU per job: PostgreSQL / this Node process', `${fmt(median(pgCpu), 1)} µs / ${fmt(median(nodeCpu), 1)} µs`);
      report('WAL per enqueued job (enqueueMany)', `${fmt(median(wal))} bytes${Number.isNaN(median(fpi)) ? '' : ` (of which full-page images ${fmt(median(fpi))})`}`);
    }

    if (want('enqueue')) {
      const rates: number[] = [];
      const pgCpu: number[] = [];
      const nodeCpu: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        await truncate();
        const perCaller = 1_000;
        const b0 = await backendCpuUs(pool, db.name);
        const p0 = process.cpuUsage();
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: 10 }, async (_, c) => {
            for (let i = 0; i < perCaller; i++) await store.enqueue(noop, { i: c * perCaller + i });
          }),
        );
        rates.push((10 * perCaller) / ((performance.now() - t0) / 1000));
        const p1 = process.cpuUsage(p0);
        pgCpu.push(((await backendCpuUs(pool, db.name)) - b0) / (10 * perCaller));
        nodeCpu.push((p1.user + p1.system) / (10 * perCaller));
      }
      report('enqueue, one job per call, 10 concurrent callers', `${fmt(median(rates))} jobs/s`, '≥ 5,600 jobs/s (2 × pg-boss 2,800)');
      report('  CPU per job: PostgreSQL / this Node process', `${fmt(median(pgCpu), 1)} µs / ${fmt(median(nodeCpu), 1)} µs`);
    }

    if (want('drain')) {
      const rates: number[] = [];
      const wal: number[] = [];
      const cpu: number[] = [];
      const proc: number[] = [];
      const pgc: number[] = [];
      const fpi: number[] = [];
      for (let r = 0; r < Math.max(3, RUNS); r++) {
        await truncate();
        await store.enqueueMany(items(20_000));
        await pool.query(`vacuum analyze ${T}`);
        const lsn = await walLsn(pool);
        const c0 = hostCpu();
        const b0 = await backendCpuUs(pool, db.name);
        const p0 = process.cpuUsage();
        const worker = new Worker(store, { jobs: [noop], concurrency: 10, exitIfNoJobs: true, enableJitter: false, logger: 'silent' });
        const t0 = performance.now();
        await worker.start();
        const ms = performance.now() - t0;
        const c1 = hostCpu();
        const p1 = process.cpuUsage(p0);
        if (worker.jobsProcessed !== 20_000) throw new Error(`drain processed ${worker.jobsProcessed} jobs`);
        rates.push(20_000 / (ms / 1000));
        wal.push((await walBytes(pool, lsn)) / 20_000);
        fpi.push(((await walFpiBytes(pool, lsn)) ?? NaN) / 20_000);
        cpu.push(((c1.busy - c0.busy) * TICK_US) / 20_000);
        proc.push((p1.user + p1.system) / 20_000);
        pgc.push(((await backendCpuUs(pool, db.name)) - b0) / 20_000);
      }
      report('drain 20,000 no-op jobs, 1 process, concurrency 10', `${fmt(median(rates))} jobs/s`, '≥ 6,000 jobs/s (1.25 × graphile-worker 4,800)');
      report('WAL per processed job (claim + complete)', `${fmt(median(wal))} bytes${Number.isNaN(median(fpi)) ? '' : ` (of which full-page images ${fmt(median(fpi))})`}`, '< 450 bytes');
      report('  CPU per job: PostgreSQL / this Node process', `${fmt(median(pgc), 1)} µs / ${fmt(median(proc), 1)} µs`);
      report('host CPU per processed job (all cores, every process on the host)', `${fmt(median(cpu))} µs`);
    }

    if (want('pickup')) {
      // An idle worker on its own store; jobs enqueued through another store (another pool), one at a time.
      await truncate();
      const workerStore = new PostgresStore({ connectionString: db.url }, { logger: 'error' });
      const worker = new Worker(workerStore, { jobs: [probe], concurrency: 1, enableJitter: false, wakeupEvery: 5, logger: 'silent' });
      const running = worker.start();
      await sleep(300);
      // The floor, measured alternately with the store: a durable one-row INSERT with
      // NOTIFY on a bare table, from the call to the LISTENing client's notification.
      // Any PostgreSQL queue whose enqueue commits before a worker hears of it pays this.
      const floorTable = 'jq_bench_floor';
      await pool.query(`create table if not exists ${floorTable} (id bigserial primary key, payload json not null)`);
      const floorClient = new pg.Client({ connectionString: db.url });
      const floorListener = new pg.Client({ connectionString: db.url });
      await Promise.all([floorClient.connect(), floorListener.connect()]);
      let heard: ((t: number) => void) | null = null;
      floorListener.on('notification', () => heard?.(performance.now()));
      await floorListener.query('listen jq_bench_floor');
      const floorText = `with i as (insert into ${floorTable} (payload) values ($1) returning id) select id, pg_notify('jq_bench_floor', id::text) from i`;
      const samples: number[] = [];
      const wake: number[] = [];
      const floor: number[] = [];
      const n = Number(process.env.BENCH_PICKUPS ?? 300);
      for (let i = 0; i < n + 20; i++) {
        const started = new Promise<number>((r) => (pickupResolve = r));
        const t0 = performance.now();
        await store.enqueue(probe, { i });
        const committed = performance.now();
        const t1 = await started;
        await sleep(10 + Math.random() * 10); // the worker is idle (waiting) again
        const got = new Promise<number>((r) => (heard = r));
        const f0 = performance.now();
        await floorClient.query({ name: 'floor', text: floorText, values: [JSON.stringify({ i })] });
        const f1 = await got;
        if (i >= 20) {
          // The first few warm connections and plans.
          samples.push(t1 - t0);
          wake.push(t1 - committed);
          floor.push(f1 - f0);
        }
        await sleep(10 + Math.random() * 10);
      }
      worker.stop();
      await running;
      await workerStore.close();
      await Promise.all([floorClient.end(), floorListener.end()]);
      report(
        `pickup latency, idle worker (enqueue call → run starts, ${n} jobs)`,
        `p50 ${fmt(pct(samples, 50), 2)} ms, p95 ${fmt(pct(samples, 95), 2)} ms, p99 ${fmt(pct(samples, 99), 2)} ms`,
        'p50 < 2 ms, p99 < 5 ms',
      );
      report('  of which after enqueue() resolved (NOTIFY → claim → run)', `p50 ${fmt(pct(wake, 50), 2)} ms, p95 ${fmt(pct(wake, 95), 2)} ms, p99 ${fmt(pct(wake, 99), 2)} ms`);
      report(
        '  floor, alternating with it: bare INSERT + NOTIFY → listener hears it',
        `p50 ${fmt(pct(floor, 50), 2)} ms, p95 ${fmt(pct(floor, 95), 2)} ms, p99 ${fmt(pct(floor, 99), 2)} ms`,
      );
    }

    if (want('claim')) {
      for (const size of [10_000, 1_000_000]) {
        await truncate();
        // Fill with plain SQL in chunks (what matters here is the table's size, not how it got there).
        const chunk = 100_000;
        for (let done = 0; done < size; done += chunk) {
          const n = Math.min(chunk, size - done);
          await pool.query(
            `insert into ${T} (type, queue_name, priority, payload, max_attempts, delete_on_complete, created_at, start_at, run_at, status) ` +
              `select 'bench-noop', case when g % 10 = 0 then 'other' else 'default' end, 0, '{"i":0}', 1, true, now(), now() - interval '1 minute', now() - interval '1 minute', 'queued' from generate_series(1, $1::int) g`,
            [n],
          );
        }
        await pool.query(`vacuum analyze ${T}`);
        const all: number[] = [];
        const one: number[] = [];
        const req = (queues: string[] | null) => ({ workerId: 'bench', queues, limit: 1, leaseMs: 30_000 });
        for (let i = 0; i < 520; i++) {
          const queues = i % 2 ? ['default'] : null;
          const t0 = performance.now();
          const [c] = await store.claim(req(queues));
          const dt = performance.now() - t0;
          if (i >= 20) (queues ? one : all).push(dt);
          await store.settle(c!.claim, { status: 'completed', delete: true });
        }
        report(`claim (limit 1) with ${fmt(size)} queued jobs`, `median ${fmt(median(all), 3)} ms (all queues), ${fmt(median(one), 3)} ms (one named queue)`, 'flat');
      }
    }
  } finally {
    await store.close();
    await pool.end();
    await db.drop();
  }
  console.log(`\nsummary: ${JSON.stringify(results)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
