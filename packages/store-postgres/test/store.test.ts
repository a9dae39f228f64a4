/** PostgreSQL-specific behaviour: construction, names, pools, bad input, plans, errors. */
import { defineJob, InvalidArgumentError, InvalidJobOptionsError, JobNotFoundError, StoreClosedError, StoreConnectionError, StoreError, Worker } from '@jqjobs/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/index.ts';
import { buildStatements } from '../src/sql.ts';
import { createTestDatabase, FakeClock, type TestDatabase } from './helpers.ts';

let db: TestDatabase;
let pool: pg.Pool;
let tableSeq = 0;

beforeAll(async () => {
  db = await createTestDatabase('store');
  pool = new pg.Pool({ connectionString: db.url, max: 6 });
  pool.on('error', () => {});
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

async function fresh(options: ConstructorParameters<typeof PostgresStore>[1] = {}): Promise<PostgresStore> {
  const store = new PostgresStore({ pool }, { table: `s${++tableSeq}`, logger: 'silent', ...options });
  await store.migrate();
  return store;
}

const req = (limit = 1, queues: string[] | null = null) => ({ workerId: 'w', queues, limit, leaseMs: 30_000 });

describe('PostgresStore construction', () => {
  it('validates schema and table names', () => {
    for (const schema of ['', 'a-b', 'x"; drop table jobs; --', '1abc', 'a'.repeat(64), 'sp ace', 'ünï']) {
      expect(() => new PostgresStore({ pool }, { schema }), schema).toThrow(InvalidArgumentError);
    }
    for (const table of ['', 'jobs;', 'a'.repeat(49), 'Jobs"']) {
      expect(() => new PostgresStore({ pool }, { table }), table).toThrow(InvalidArgumentError);
    }
    expect(() => new PostgresStore({} as never)).toThrow(InvalidArgumentError);
    expect(() => new PostgresStore({ connectionString: db.url, poolSize: 0 })).toThrow(InvalidArgumentError);
  });

  it('keeps jobs of differently named tables apart, in a custom schema too', async () => {
    const a = await fresh({ schema: 'App_Jobs', table: 'Queue_A' });
    const b = await fresh({ schema: 'App_Jobs', table: 'queue_b' });
    await a.enqueue('x', { from: 'a' });
    await b.enqueue('x', { from: 'b' }, { coalesceId: 'same' });
    await a.enqueue('x', { from: 'a2' }, { coalesceId: 'same' });
    expect(await a.count()).toBe(2);
    expect(await b.count()).toBe(1);
    const [c] = await b.claim(req());
    expect(c?.job.payload).toEqual({ from: 'b' });
    const tables = await pool.query(`select tablename from pg_tables where schemaname = 'App_Jobs' order by 1`);
    expect(tables.rows.map((r) => r.tablename)).toEqual(['Queue_A', 'Queue_A_migrations', 'Queue_A_offers', 'queue_b', 'queue_b_migrations', 'queue_b_offers']);
    await a.close();
    await b.close();
  });

  it('never ends a pool it was given; ends its own; close() is idempotent and later calls fail clearly', async () => {
    const given = await fresh();
    await given.close();
    await given.close();
    expect((await pool.query('select 1 as x')).rows[0].x).toBe(1);
    await expect(given.get('1')).rejects.toBeInstanceOf(StoreClosedError);
    await expect(given.enqueue('x', {})).rejects.toBeInstanceOf(StoreClosedError);
    await expect(given.claim(req())).rejects.toBeInstanceOf(StoreClosedError);

    const own = new PostgresStore({ connectionString: db.url }, { table: given.table, logger: 'silent' });
    await own.enqueue('x', {});
    const ownPool = (own as unknown as { pool: pg.Pool }).pool;
    await own.close();
    expect(ownPool.ended).toBe(true);
  });

  it('holds one connection for single enqueues on its own pool, none of a given pool, and survives losing it', async () => {
    const table = `s${++tableSeq}`;
    const given = await fresh({ table });
    await given.enqueue('x', { i: 1 });
    // A given pool gets every connection back after each statement.
    expect(pool.idleCount).toBe(pool.totalCount);
    await given.close();

    const own = new PostgresStore({ connectionString: db.url, poolSize: 2 }, { table, logger: 'silent', notify: false });
    const ownPool = (own as unknown as { pool: pg.Pool }).pool;
    await own.enqueue('x', { i: 2 });
    await own.enqueue('x', { i: 3 });
    // The enqueue connection is held, beside the poolSize connections the pool may still open.
    expect(ownPool.totalCount - ownPool.idleCount).toBe(1);
    expect(ownPool.options.max).toBe(3);
    const backend = async () =>
      (await pool.query<{ pid: number }>(`select pid from pg_stat_activity where datname = current_database() and query like '%insert into%"${table}"%' and pid <> pg_backend_pid()`)).rows.map((r) => r.pid);
    const [first] = await backend();
    expect(first).toBeTypeOf('number');
    await pool.query('select pg_terminate_backend($1)', [first]);
    // The dead connection is dropped (its error event, or the failure of the next statement on it); the enqueues after it use a new one.
    const outcomes = await Promise.allSettled([1, 2, 3].map(async (i) => {
      await new Promise((r) => setTimeout(r, 50 * i));
      return own.enqueue('x', { i: 3 + i });
    }));
    for (const o of outcomes.slice(1)) expect(o.status).toBe('fulfilled');
    if (outcomes[0]!.status === 'rejected') expect(outcomes[0]!.reason).toBeInstanceOf(StoreConnectionError);
    const [second] = await backend();
    expect(second).toBeTypeOf('number');
    expect(second).not.toBe(first);
    // Concurrent enqueues beyond the held connection go through the pool.
    const many = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      await Promise.resolve();
      return own.enqueue('x', { i: 100 + i });
    }));
    expect(new Set(many.map((j) => j.id)).size).toBe(20);
    await own.close();
    expect(ownPool.ended).toBe(true);
    expect(ownPool.totalCount).toBe(0);
  });

  it('before migrate(): a StoreError that says to migrate', async () => {
    const store = new PostgresStore({ pool }, { table: 'never_migrated', logger: 'silent' });
    const err = await store.count().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).not.toBeInstanceOf(StoreConnectionError);
    expect((err as Error).message).toMatch(/migrate\(\)/);
    expect((err as Error).cause).toBeInstanceOf(Error);
    await store.close();
  });

  it('an unreachable server: StoreConnectionError with the driver error as cause, not a hang', async () => {
    const store = new PostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 2_000 }, { logger: 'silent' });
    for (const call of [() => store.enqueue('x', {}), () => store.get('1'), () => store.claim(req()), () => store.migrate()]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreConnectionError);
      expect((err as Error).cause).toBeInstanceOf(Error);
    }
    await store.close();
  });
});

describe('PostgresStore bad input', () => {
  const weird = ['q "quoted"', "it's", 'semi; colon', "'); drop table jobs; --", 'ünïcødé ✓ 漢字 🚀', 'back\\slash $1 %s {x} [y]', ' spaced ', '\t\ttabs\n'];

  it('queue names and coalesce ids with quotes, semicolons and unicode round-trip and match exactly', async () => {
    const store = await fresh();
    for (const q of weird) {
      const j = await store.enqueue('w', { q }, { queueName: q, coalesceId: `c:${q}` });
      expect(j).toMatchObject({ queueName: q, coalesceId: `c:${q}`, coalesced: false });
      expect(await store.enqueue('w', {}, { coalesceId: `c:${q}` })).toMatchObject({ id: j.id, coalesced: true });
      expect((await store.getByCoalesceId(`c:${q}`))?.id).toBe(j.id);
      expect(await store.count({ queueName: q })).toBe(1);
    }
    for (const q of weird) {
      const got = await store.claim(req(5, [q]));
      expect(got.map((c) => c.job.queueName)).toEqual([q]);
    }
    expect((await store.stats()).map((s) => s.queueName).sort()).toEqual([...weird].sort());
    expect(await store.getByCoalesceId("' or 1=1 --")).toBeNull();
    await store.close();
  });

  it('ids that are not ids give JobNotFoundError everywhere, never a SQL error', async () => {
    const store = await fresh();
    const job = await store.enqueue('w', {});
    const bad = ['1; drop table jobs', "1' or '1'='1", '0', '-1', '1e3', '0x10', ' 1', '1 ', '9223372036854775808', '99999999999999999999', 'NaN', '', '\u0000', '١', null, undefined, {}];
    for (const id of bad as string[]) {
      await expect(store.get(id), String(id)).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(store.restart(id), String(id)).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(store.delete(id), String(id)).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(store.withLock(id, () => 1), String(id)).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(store.settleWaitAsync(id, { status: 'failed', error: 'x' }), String(id)).rejects.toBeInstanceOf(JobNotFoundError);
      expect(await store.settle({ jobId: id, token: '1:1' }, { status: 'completed', delete: true })).toMatchObject({ applied: false });
    }
    expect(await store.extendLeases([{ jobId: "1'; --", token: 'x' }], 1000)).toEqual(["1'; --"]);
    // A forged token for a real job changes nothing.
    const [c] = await store.claim(req());
    for (const token of ['', 'x', `${job.id}:`, `${job.id}:99`, `${job.id}:1; drop`, `2:1`]) {
      expect((await store.settle({ jobId: job.id, token }, { status: 'failed', error: 'forged' })).applied).toBe(false);
    }
    expect(await store.get(job.id)).toMatchObject({ status: 'running', errorMessage: null });
    expect((await store.settle(c!.claim, { status: 'completed', delete: false })).applied).toBe(true);
    expect(await store.count()).toBe(1);
    await store.close();
  });

  it('text PostgreSQL cannot store (NUL, lone surrogates) is refused at enqueue and stores nothing', async () => {
    const store = await fresh();
    const t = defineJob({ name: 'nul-test', run: () => {} });
    for (const options of [{ queueName: 'a\u0000b' }, { coalesceId: 'c\u0000' }, { queueName: '\ud800' }, { coalesceId: 'x\udc00y' }]) {
      await expect(store.enqueue(t, {}, options), JSON.stringify(options)).rejects.toBeInstanceOf(InvalidJobOptionsError);
      await expect(store.enqueueMany([{ type: t, payload: {} }, { type: t, payload: {}, options }])).rejects.toBeInstanceOf(InvalidJobOptionsError);
    }
    await expect(store.enqueue('bad\u0000type', {})).rejects.toBeInstanceOf(InvalidJobOptionsError);
    expect(await store.count()).toBe(0);
    // In payloads they are fine (JSON escapes them).
    const payload = { s: 'nul \u0000 lone \ud800 pair 😀', n: 1.5 };
    const j = await store.enqueue(t, payload);
    expect((await store.get(j.id)).payload).toEqual(payload);
    await store.close();
  });

  it('an error message PostgreSQL cannot store is sanitised rather than failing the settle', async () => {
    const store = await fresh();
    const t = defineJob({
      name: 'nul-error',
      run: () => {
        throw new Error('bad \u0000 byte \ud800');
      },
    });
    const j = await store.enqueue(t, {});
    await new Worker(store, { jobs: [t], exitIfNoJobs: true, enableJitter: false, logger: 'silent' }).start();
    expect(await store.get(j.id)).toMatchObject({ status: 'failed', errorMessage: 'bad \uFFFD byte \uFFFD' });
    await store.close();
  });

  it('rejects malformed claims, outcomes and filters with InvalidArgumentError', async () => {
    const store = await fresh();
    for (const r of [{ ...req(), limit: 0 }, { ...req(), limit: 1.5 }, { ...req(), leaseMs: -1 }, { ...req(), queues: [''] }, { ...req(), queues: 'q' }]) {
      await expect(store.claim(r as never), JSON.stringify(r)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(store.settle({ jobId: '1', token: '1:1' }, { status: 'nope' } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.jobs({ offset: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.count({ status: ['queued', 'nope' as never] })).rejects.toBeInstanceOf(InvalidArgumentError);
    await store.close();
  });
});

describe('PostgresStore big batches (COPY)', () => {
  it('stores every field exactly, in order, with awkward text, and falls back to INSERT for far-future dates', async () => {
    const store = await fresh();
    const names = ['tab\there', 'new\nline', 'back\\slash \\N', 'cr\rx', 'plain', '✓ 漢字'];
    const items = Array.from({ length: 1200 }, (_, i) => ({
      type: names[i % names.length]!,
      payload: { i, s: names[i % names.length], esc: '\\ "q" \u0000 \ud800 \t', arr: [1.5, null, true] },
      options: {
        queueName: names[(i + 1) % names.length]!,
        priority: (i % 7) - 3,
        maxAttempts: 1 + (i % 4),
        deleteOnComplete: i % 2 === 0,
        maxRuntimeSeconds: i % 3 === 0 ? null : 0.25 + i,
        backoff: i % 5 === 0 ? { type: 'exponential' as const, delayMs: 10, maxDelayMs: 1000 } : null,
        startAt: i % 11 === 0 ? new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)) : i % 13 === 0 ? new Date(Date.UTC(1970, 0, 1)) : undefined,
      },
    }));
    const jobs = await store.enqueueMany(items);
    expect(jobs).toHaveLength(items.length);
    const ids = jobs.map((j) => BigInt(j.id));
    expect(ids.every((id, k) => k === 0 || id > ids[k - 1]!)).toBe(true);
    const stored = await store.jobs({ limit: 2000 });
    expect(stored.map((j) => j.id)).toEqual(jobs.map((j) => j.id));
    stored.forEach((j, k) => {
      const { coalesced, ...made } = jobs[k]!;
      expect(coalesced).toBe(false);
      expect(j).toEqual(made);
      expect(j.payload).toEqual(JSON.parse(JSON.stringify(items[k]!.payload)));
      expect(j.type).toBe(items[k]!.type);
      expect(j.queueName).toBe(items[k]!.options.queueName);
    });
    // Years past 9999 cannot go through COPY's text format: the batch takes the INSERT path.
    const far = await store.enqueueMany(Array.from({ length: 600 }, (_, i) => ({ type: 'far', payload: { i }, options: { startAt: i === 0 ? new Date(Date.UTC(20000, 0, 1)) : undefined } })));
    expect((await store.get(far[0]!.id)).startAt?.getTime()).toBe(Date.UTC(20000, 0, 1));
    expect(await store.count()).toBe(1800);
    await store.close();
  });
});

describe('PostgresStore claims capped by maxBatchSize', () => {
  it('a worker with more slots than one statement claims fills them all without waiting for a poll', async () => {
    const store = await fresh({ maxBatchSize: 4 });
    let running = 0;
    let most = 0;
    const t = defineJob<number>({
      name: `capped-${tableSeq}`,
      run: async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 150));
        running--;
      },
    });
    await store.enqueueMany(Array.from({ length: 24 }, (_, i) => ({ type: t, payload: i })));
    // A claim for 12 comes back with 4 (the cap): fewer than asked, yet more are due.
    // With a 60 s poll, only the store's "return at once" keeps the other slots from idling.
    const w = new Worker(store, { jobs: [t], concurrency: 12, wakeupEvery: 60, enableJitter: false, logger: 'silent', exitIfNoJobs: true });
    const started = Date.now();
    await w.start();
    expect(w.jobsProcessed).toBe(24);
    expect(most).toBeGreaterThanOrEqual(10);
    expect(Date.now() - started).toBeLessThan(20_000);
    await store.close();
  });
});

describe('PostgresStore statements', () => {
  it('stats(): one scan at a time, shared by the calls made during it, and a call after a write sees the write', { timeout: 60_000 }, async () => {
    const counting = new pg.Pool({ connectionString: db.url, max: 4 });
    counting.on('error', () => {});
    let scans = 0;
    const query = counting.query.bind(counting) as (config: unknown) => Promise<unknown>;
    (counting as unknown as { query: (config: unknown) => Promise<unknown> }).query = (config) => {
      if (JSON.stringify(config).includes('group by queue_name, status')) scans++;
      return query(config);
    };
    const store = new PostgresStore({ pool: counting }, { table: `s${++tableSeq}`, logger: 'silent' });
    await store.migrate();
    // Enough rows that a scan takes far longer than an enqueue.
    await counting.query(
      `insert into jqjobs."${store.table}" (type, queue_name, priority, payload, max_attempts, delete_on_complete, created_at, start_at, run_at, status) ` +
        `select 't', 'bulk', 0, '{}', 3, true, now(), now(), now(), 'queued' from generate_series(1, 300000)`,
    );
    await counting.query(`analyze jqjobs."${store.table}"`);

    const first = store.stats();
    const later = Promise.all(Array.from({ length: 10 }, () => store.stats()));
    const afterWrite = (async () => {
      await store.enqueue('x', {}, { queueName: 'fresh' });
      return store.stats();
    })();
    const [a, many, b] = await Promise.all([first, later, afterWrite]);
    expect(a.find((q) => q.queueName === 'bulk')?.counts.queued).toBe(300_000);
    for (const m of many) expect(m).toEqual(many[0]);
    // Made after its enqueue resolved, while the first scan was still running: it waited for a newer one.
    expect(b.find((q) => q.queueName === 'fresh')?.counts.queued).toBe(1);
    // The first scan, then one shared by all eleven calls made while it ran.
    expect(scans).toBe(2);
    // Callers get copies.
    many[0]![0]!.counts.queued = -1;
    expect(many[1]![0]!.counts.queued).not.toBe(-1);
    await store.close();
    await counting.end();
  });

  it('claims walk the claim index in order (no sort), and hung-job detection reads only the active-jobs index', async () => {
    const store = await fresh();
    const T = `"${store.schema}"."${store.table}"`;
    await pool.query(
      `insert into ${T} (type, queue_name, priority, payload, max_attempts, delete_on_complete, created_at, start_at, run_at, status) ` +
        `select 't', case when g % 7 = 0 then 'other' else 'default' end, g % 3, '{}', 1, true, now(), now(), now(), 'queued' from generate_series(1, 50000) g`,
    );
    await store.claim(req(20));
    await pool.query(`analyze ${T}`);
    const S = buildStatements(store.schema, store.table, 'c');
    const plan = async (sql: { text: string; params: readonly string[] }, values: Record<string, unknown>) => {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const r = await client.query({ text: `explain ${sql.text}`, values: sql.params.map((p) => values[p] ?? null) });
        return r.rows.map((x: Record<string, string>) => x['QUERY PLAN']).join('\n');
      } finally {
        await client.query('rollback');
        client.release();
      }
    };
    const now = Date.now();
    const all = await plan(S.work(false, 'all', false, 10), { now, worker: 'w', lease: 1000 });
    expect(all).toMatch(new RegExp(`Index Scan using ${store.table}_claim_idx`));
    expect(all).not.toMatch(/Sort/);
    expect(all).not.toMatch(/Seq Scan/);
    const one = await plan(S.work(false, 'queues', false, 10), { now, worker: 'w', lease: 1000, queues: ['other'] });
    // The queue name is tested inside the index; only the few rows taken per queue are merged.
    expect(one).toMatch(new RegExp(`Index Scan using ${store.table}_claim_idx`));
    expect(one).toMatch(/Index Cond: .*queue_name/);
    expect(one).not.toMatch(/Seq Scan/);
    // With the optional per-queue index of the README, named-queue claims use it.
    await pool.query(`create index ${store.table}_claim_queue_idx on ${T} (queue_name, priority desc, run_at, id) where status = 'queued'`);
    await pool.query(`analyze ${T}`);
    const perQueue = await plan(S.work(false, 'queues', false, 10), { now, worker: 'w', lease: 1000, queues: ['other'] });
    expect(perQueue).toMatch(new RegExp(`Index Scan using ${store.table}_claim_queue_idx`));
    const hung = await plan(S.detectHung(true), { now, cap: 20, leaseMessage: 'l', runtimeMessage: 'r' });
    expect(hung).toMatch(new RegExp(`Index Scan using ${store.table}_active_idx`));
    expect(hung).not.toMatch(new RegExp(`Seq Scan on ${store.table}`));
    await store.close();
  });

  it('after the first bulk load the planner has statistics, so claims read the claim index in order', async () => {
    const store = await fresh();
    const T = `"${store.schema}"."${store.table}"`;
    const stats = async () => (await pool.query(`select reltuples::float8 as n from pg_class where oid = '${T}'::regclass`)).rows[0] as { n: number };
    // A table filled faster than autovacuum runs looks empty to the planner.
    expect((await stats()).n).toBeLessThan(1);
    await store.enqueueMany(Array.from({ length: 5_000 }, (_, i) => ({ type: 'bulk', payload: { i } })));
    expect((await stats()).n).toBeGreaterThan(4_000);
    const S = buildStatements(store.schema, store.table, 'c');
    const sql = S.work(false, 'all', false, 10);
    const client = await pool.connect();
    try {
      await client.query('begin');
      const values: Record<string, unknown> = { now: Date.now(), worker: 'w', lease: 1000 };
      const r = await client.query({ text: `explain ${sql.text}`, values: sql.params.map((p) => values[p] ?? null) });
      const plan = r.rows.map((x: Record<string, string>) => x['QUERY PLAN']).join('\n');
      expect(plan).toMatch(new RegExp(`Index Scan using ${store.table}_claim_idx`));
      expect(plan).not.toMatch(/Sort/);
    } finally {
      await client.query('rollback');
      client.release();
    }
    await store.close();
  });

  it('takes every time from its clock, not from the database', async () => {
    const clock = new FakeClock(Date.UTC(2001, 0, 1));
    const store = await fresh({ clock });
    const job = await store.enqueue('clocked', {});
    expect(job.createdAt.getTime()).toBe(clock.now());
    expect(await store.claim(req())).toHaveLength(1);
    const row = await pool.query(`select date_part('epoch', created_at) * 1000 as c, date_part('epoch', lease_until) * 1000 as l from "${store.schema}"."${store.table}"`);
    expect(Math.round(row.rows[0].c)).toBe(clock.now());
    expect(Math.round(row.rows[0].l)).toBe(clock.now() + 30_000);
    // A job scheduled in the clock's future is not due, whatever the server's now() says.
    await store.enqueue('clocked', {}, { startAt: clock.now() + 1000 });
    expect(await store.claim(req())).toEqual([]);
    clock.advance(1000);
    expect(await store.claim(req())).toHaveLength(1);
    await store.close();
  });

  it('batches concurrent settles and enqueues into shared statements, with correct per-call results', async () => {
    const store = await fresh();
    const jobs = await Promise.all(Array.from({ length: 40 }, (_, i) => store.enqueue('b', { i }, i % 5 === 0 ? { coalesceId: `b:${i % 10}` } : {})));
    // i = 0, 10, 20, 30 share 'b:0' and 5, 15, 25, 35 share 'b:5': the first of each wins.
    jobs.forEach((j, i) => {
      if (i % 5 !== 0 || i < 10) expect(j).toMatchObject({ payload: { i }, coalesced: false });
      else expect(j).toMatchObject({ id: jobs[i % 10]!.id, payload: { i: i % 10 }, coalesced: true });
    });
    expect(await store.count()).toBe(34);
    for (let i = 0; i < 6; i++) await store.enqueue('b', { i: 100 + i });
    const claimed = await store.claim(req(40));
    const outcomes = claimed.map((c, i) =>
      store.settle(c.claim, i % 4 === 0 ? { status: 'completed', delete: true } : i % 4 === 1 ? { status: 'completed', delete: false } : i % 4 === 2 ? { status: 'failed', error: `e${i}` } : { status: 'wait_async' }, req(1)),
    );
    const results = await Promise.all(outcomes);
    expect(results.every((r) => r.applied)).toBe(true);
    expect(results.map((r) => r.job?.status)).toEqual(claimed.map((_, i) => ['completed', 'completed', 'failed', 'wait_async'][i % 4]));
    expect(results[2]!.job).toMatchObject({ errorMessage: 'e2', id: claimed[2]!.job.id });
    expect(results.flatMap((r) => r.next)).toEqual([]);
    expect(await store.count({ status: 'completed' })).toBe(10);
    expect(await store.count({ status: 'failed' })).toBe(10);
    expect(await store.count({ status: 'wait_async' })).toBe(10);
    // Settling again: refused, reported with the job as it is now.
    const again = await store.settle(claimed[1]!.claim, { status: 'failed', error: 'late' });
    expect(again).toMatchObject({ applied: false, job: { status: 'completed' } });
    await store.close();
  });
});
