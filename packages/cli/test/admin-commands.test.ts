// The admin commands (stats, list, show, restart, retry, delete, resolve,
// detect-hung, migrate) run through runCli against real PostgreSQL and Redis
// stores, including bad input: one-line errors, exit 64, nothing changed.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord, Store } from '@jqjobs/core';
import { PostgresStore } from '@jqjobs/store-postgres';
import { RedisStore } from '@jqjobs/store-redis';
import { runCli } from '../src/main.ts';
import { setPrompter } from '../src/commands/admin-shared.ts';
import { cleanedUp, payment } from './fixtures/admin-jobs.ts';
import { createTestDatabase, PG_URL, type TestDatabase } from './helpers/pg.ts';

const REDIS_URL = process.env.JQ_REDIS_URL ?? 'redis://127.0.0.1:6379';
const REDIS_HOW_TO_START = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no (or set JQ_REDIS_URL)';
const jobsModule = fileURLToPath(new URL('./fixtures/admin-jobs.ts', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (t: string) => (stdout += t), isTTY: false },
    stderr: { write: (t: string) => (stderr += t), isTTY: false },
    env: {},
    cwd: process.cwd(),
  });
  return { code, stdout, stderr };
}

/** A bad-input run: exit 64, one line on stderr, nothing on stdout. */
function expectUsage(r: Run, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(64);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

interface Target {
  name: string;
  /** CLI arguments naming the store. */
  args: string[];
  store: Store;
  /** Removes every job, between tests. */
  clear(): Promise<void>;
  dispose(): Promise<void>;
}

async function postgresTarget(): Promise<Target> {
  const db: TestDatabase = await createTestDatabase('admin_cli');
  return {
    name: 'postgres',
    args: ['--store', db.url],
    store: db.store,
    clear: async () => {
      for (let batch = await db.store.jobs({ limit: 1000 }); batch.length; batch = await db.store.jobs({ limit: 1000 })) {
        for (const j of batch) await db.store.delete(j.id);
      }
    },
    dispose: () => db.drop(),
  };
}

async function redisTarget(): Promise<Target> {
  const admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
    await admin.ping();
  } catch (err) {
    admin.disconnect();
    throw new Error(`Redis is not reachable at ${REDIS_URL} (${(err as Error).message}); start one with: ${REDIS_HOW_TO_START}`);
  }
  const prefix = `jq_admin_cli_${process.pid}_${randomBytes(3).toString('hex')}`;
  const store = new RedisStore({ url: REDIS_URL }, { prefix, logger: 'silent' });
  const drop = async () => {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await admin.unlink(...keys);
    } while (cursor !== '0');
  };
  return {
    name: 'redis',
    args: ['--store', REDIS_URL, '--prefix', prefix],
    store,
    clear: async () => {
      for (let batch = await store.jobs({ limit: 1000 }); batch.length; batch = await store.jobs({ limit: 1000 })) {
        for (const j of batch) await store.delete(j.id);
      }
    },
    dispose: async () => {
      await store.close();
      await drop();
      admin.disconnect();
    },
  };
}

async function snapshot(store: Store): Promise<JobRecord[]> {
  return store.jobs({ limit: 10_000 });
}

async function claimAndSettle(store: Store, job: JobRecord, outcome: { status: 'failed'; error: string } | { status: 'wait_async' }): Promise<void> {
  const [claimed] = await store.claim({ workerId: 'test', queues: [job.queueName], limit: 1, leaseMs: 60_000 });
  if (claimed?.job.id !== job.id) throw new Error(`test setup: expected to claim ${job.id}`);
  await store.settle(claimed.claim, outcome);
}

async function failedJob(store: Store, queueName = 'reports', payload: unknown = { r: 1 }): Promise<JobRecord> {
  const job = await store.enqueue('admin-cli-report', payload, { queueName, priority: 10 });
  await claimAndSettle(store, job, { status: 'failed', error: 'Error: upstream down\n    at fetch (report.ts:1:1)' });
  return store.get(job.id);
}

async function parkedJob(store: Store): Promise<JobRecord> {
  const job = await store.enqueue(payment, { order: 7 }, { queueName: 'payments', priority: 10 });
  await claimAndSettle(store, job, { status: 'wait_async' });
  return store.get(job.id);
}

describe.each([
  ['PostgreSQL', postgresTarget],
  ['Redis', redisTarget],
] as const)('admin commands on %s', (_label, make) => {
  let t: Target;
  let s: (...argv: string[]) => Promise<Run>;

  beforeAll(async () => {
    t = await make();
    s = (command, ...rest) => cli(command as string, ...t.args, ...rest);
  });
  afterAll(async () => {
    await t?.dispose();
  });
  beforeEach(async () => {
    await t.clear();
    cleanedUp.length = 0;
  });
  afterEach(() => setPrompter(null));

  it('stats: counts per queue and status, with latency, as a table and as JSON', async () => {
    await t.store.enqueueMany([0, 1, 2].map((i) => ({ type: 'admin-cli-plain', payload: i, options: { queueName: 'email' } })));
    await t.store.enqueue('admin-cli-plain', 3, { queueName: 'email', startAt: new Date(Date.now() + 3_600_000) });
    await failedJob(t.store);
    const r = await s('stats');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^QUEUE\s+QUEUED\s+DUE\s+RUNNING\s+WAIT_ASYNC\s+FAILED\s+COMPLETED\s+UNQUEUED\s+TOTAL\s+LATENCY$/);
    expect(lines[1]).toMatch(/^email\s+4\s+3\s+0\s+0\s+0\s+0\s+0\s+4\s+\d+s$/);
    expect(lines[2]).toMatch(/^reports\s+0\s+0\s+0\s+0\s+1\s+0\s+0\s+1\s+—$/);
    expect(lines[3]).toMatch(/^\(all\)\s+4\s+3\s+0\s+0\s+1\s+0\s+0\s+5\s+\d+s$/);
    const json = JSON.parse((await s('stats', '--json')).stdout) as { queueName: string; counts: Record<string, number>; dueCount: number; oldestQueuedAgeMs: number | null }[];
    expect(json.map((q) => [q.queueName, q.counts.queued, q.dueCount, q.counts.failed])).toEqual([
      ['email', 4, 3, 0],
      ['reports', 0, 0, 1],
    ]);
    expect(json[0]?.oldestQueuedAgeMs).toBeGreaterThanOrEqual(0);
  });

  it('list: filters and pages; the total and the next page go to stderr', async () => {
    for (let i = 0; i < 5; i++) await t.store.enqueue('admin-cli-plain', { i }, { queueName: 'email' });
    const f = await failedJob(t.store);
    const page1 = await s('list', '--queue', 'email', '--limit', '2');
    expect(page1.code).toBe(0);
    expect(page1.stdout.trimEnd().split('\n')).toHaveLength(3);
    expect(page1.stderr).toBe('1–2 of 5; next page: --offset 2\n');
    const json = JSON.parse((await s('list', '--queue', 'email', '--limit', '2', '--offset', '4', '--json')).stdout) as { total: number; offset: number; jobs: JobRecord[] };
    expect(json.total).toBe(5);
    expect(json.jobs.map((j) => j.payload)).toEqual([{ i: 4 }]);
    const failed = await s('list', '--status', 'failed');
    expect(failed.stdout).toContain('upstream down');
    expect(failed.stdout).not.toContain('at fetch'); // first line of the error only
    expect(failed.stdout.split('\n')[1]).toMatch(new RegExp(`^\\s*${f.id}\\s+admin-cli-report\\s+reports\\s+failed`));
    expectUsage(await s('list', '--status', 'broken'), /--status must be one of/);
    expectUsage(await s('list', '--limit', '0'), /--limit must be an integer/);
  });

  it('show: the record, human and JSON; terminal control characters are neutralised', async () => {
    const job = await t.store.enqueue('admin-cli-plain', { note: '\u001b[2J\u001b[31mred' }, { queueName: `q\u001b[0m` });
    const r = await s('show', job.id);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^id\s+\S+$/m);
    expect(r.stdout).toContain('attempt             0 of 1');
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).toContain('q\\u001b[0m');
    const json = JSON.parse((await s('show', job.id, '--json')).stdout) as JobRecord;
    expect(json.payload).toEqual({ note: '\u001b[2J\u001b[31mred' });
    expectUsage(await s('show', '999999999'), /^jqjobs show: no such job: 999999999$/m);
    expectUsage(await s('show', 'not-an-id'), /no such job: not-an-id/);
    expectUsage(await s('show'), /which job\?/);
  });

  it('restart: any status, one or several ids; one unknown id changes nothing', async () => {
    const f = await failedJob(t.store);
    const q = await t.store.enqueue('admin-cli-plain', 1, { queueName: 'email' });
    const before = await snapshot(t.store);
    expectUsage(await s('restart', f.id, '999999999'), /no such job: 999999999/);
    expect(await snapshot(t.store)).toEqual(before);
    const r = await s('restart', f.id, q.id);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`restarted job ${f.id}\nrestarted job ${q.id}\n`);
    const after = await t.store.get(f.id);
    expect([after.status, after.attemptNumber, after.errorMessage]).toEqual(['queued', 0, null]);
  });

  it('retry: failed jobs only; anything else is bad input and changes nothing', async () => {
    const f = await failedJob(t.store);
    const q = await t.store.enqueue('admin-cli-plain', 1, { queueName: 'email' });
    const before = await snapshot(t.store);
    expectUsage(await s('retry', f.id, q.id), new RegExp(`job ${q.id} is queued; retry takes failed jobs only`));
    expectUsage(await s('retry', '--status', 'queued', '--yes'), /retry takes failed jobs only/);
    expect(await snapshot(t.store)).toEqual(before);
    const r = await s('retry', f.id, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ action: 'retry', matched: 1, done: [f.id], skipped: [], failed: [] });
    expect((await t.store.get(f.id)).status).toBe('queued');
  });

  it('bulk forms: refuse without a terminal or --yes, ask on a terminal, then act with progress', async () => {
    const failed = [await failedJob(t.store, 'reports'), await failedJob(t.store, 'reports'), await failedJob(t.store, 'other')];
    const queued = await t.store.enqueue('admin-cli-plain', 1, { queueName: 'reports' });
    const before = await snapshot(t.store);

    expectUsage(await s('retry', '--queue', 'reports'), /^jqjobs retry: refusing to retry 2 jobs \(queue "reports", status failed\) without confirmation: no terminal to ask on; pass --yes$/m);
    expectUsage(await s('restart', '--queue', 'reports', f0(failed)), /ids or --queue\/--status, not both/);
    expectUsage(await s('restart'), /which jobs\?/);
    expectUsage(await s('restart', f0(failed), '--yes'), /apply to the bulk form/);

    const questions: string[] = [];
    setPrompter({ isTTY: true, ask: async (q) => (questions.push(q), 'n') });
    const declined = await s('retry', '--queue', 'reports');
    expect(declined.code).toBe(1);
    expect(declined.stderr).toBe('jqjobs retry: aborted: nothing was changed\n');
    expect(questions).toEqual(['retry 2 jobs (queue "reports", status failed)? [y/N] ']);
    expect(await snapshot(t.store)).toEqual(before);

    setPrompter({ isTTY: true, ask: async () => 'y' });
    const done = await s('retry', '--queue', 'reports');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toBe('retried 2 of 2 jobs\n');
    expect((await t.store.get(failed[0]!.id)).status).toBe('queued');
    expect((await t.store.get(failed[2]!.id)).status).toBe('failed');
    expect((await t.store.get(queued.id)).attemptNumber).toBe(0);

    const none = await s('retry', '--queue', 'reports', '--yes');
    expect(none.code).toBe(0);
    expect(none.stderr).toBe('no jobs match queue "reports", status failed; nothing to retry\n');

    // Enough jobs for the non-terminal progress lines.
    await t.store.enqueueMany(Array.from({ length: 40 }, (_, i) => ({ type: 'admin-cli-plain', payload: i, options: { queueName: 'bulk' } })));
    const del = await s('delete', '--queue', 'bulk', '--yes', '--concurrency', '4');
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toBe('deleted 40 of 40 jobs\n');
    expect(del.stderr).toContain('delete: 40/40');
    expect(await t.store.count({ queueName: 'bulk' })).toBe(0);
  });

  it("delete: by id, running the type's cleanup when --jobs defines it", async () => {
    const p = await parkedJob(t.store);
    const other = await t.store.enqueue('admin-cli-plain', 1);
    expectUsage(await s('delete', '999999999'), /no such job/);
    const r = await s('delete', '--jobs', jobsModule, p.id);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`deleted job ${p.id}\n`);
    expect(cleanedUp).toEqual([p.id]);
    await expect(t.store.get(p.id)).rejects.toThrow(/not found/i);
    expect((await t.store.get(other.id)).status).toBe('queued');
  });

  it('resolve: malformed JSON, a missing job or a job not waiting are bad input; nothing changes', async () => {
    const p = await parkedJob(t.store);
    const q = await t.store.enqueue(payment, { order: 1 }, { queueName: 'payments' });
    const before = await snapshot(t.store);
    expectUsage(await s('resolve', '--jobs', jobsModule, p.id, '--data', '{paid: true}'), /^jqjobs resolve: --data is not valid JSON: /m);
    expectUsage(await s('resolve', '--jobs', jobsModule, p.id, '--data', ''), /--data must not be empty/);
    expectUsage(await s('resolve', '--jobs', jobsModule, '999999999', '--data', '{}'), /no such job: 999999999/);
    expectUsage(await s('resolve', '--jobs', jobsModule, q.id, '--data', '{}'), new RegExp(`job ${q.id} is queued; resolve takes wait_async jobs only`));
    expectUsage(await s('resolve', p.id, '--data', '{}'), /--jobs is required/);
    expect(await snapshot(t.store)).toEqual(before);
  });

  it('resolve: applies the disposition; a throwing resolver leaves the job waiting (exit 1) unless converted', async () => {
    const a = await parkedJob(t.store);
    const thrown = await s('resolve', '--jobs', jobsModule, a.id, '--data', '{"explode":"gateway said no"}');
    expect(thrown.code).toBe(1);
    expect(thrown.stderr).toMatch(/^jqjobs resolve: the resolver of job \S+ threw: gateway said no; the job stays wait_async/);
    expect((await t.store.get(a.id)).status).toBe('wait_async');

    const converted = await s('resolve', '--jobs', jobsModule, a.id, '--data', '{"explode":"again"}', '--convert-exception-to-failure', '--json');
    expect(converted.code, converted.stderr).toBe(0);
    expect(JSON.parse(converted.stdout)).toEqual({ id: a.id, disposition: 'failed' });
    expect((await t.store.get(a.id)).errorMessage).toBe('again');

    const b = await parkedJob(t.store);
    const ok = await s('resolve', '--jobs', jobsModule, b.id, '--data', '{"paid":true}');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`resolved job ${b.id}: completed\n`);
    expect((await t.store.get(b.id)).status).toBe('completed');
  });

  it('detect-hung: retries a running job whose lease expired', async () => {
    const job = await t.store.enqueue('admin-cli-plain', 1, { queueName: 'hung', maxAttempts: 1 });
    const [claimed] = await t.store.claim({ workerId: 'gone', queues: ['hung'], limit: 1, leaseMs: 1 });
    expect(claimed?.job.id).toBe(job.id);
    // Wait until the lease is over (a precondition, not a timing assertion).
    await new Promise((r) => setTimeout(r, 50));
    const r = await s('detect-hung');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('retried 1 hung job\n');
    const after = await t.store.get(job.id);
    expect(after.status).toBe('queued');
    expect(after.maxAttempts).toBe(2); // mulligan
    expect(JSON.parse((await s('detect-hung', '--json')).stdout)).toEqual({ retried: 0 });
  });
});

function f0(jobs: JobRecord[]): string {
  return jobs[0]!.id;
}

describe('admin commands: store URLs and migrations', () => {
  let db: TestDatabase | undefined;
  afterAll(async () => {
    await db?.drop();
  });

  it('an unknown store URL is bad input', async () => {
    expectUsage(await cli('stats', '--store', 'mysql://127.0.0.1/x'), /^jqjobs stats: unknown store scheme "mysql:"/);
    expectUsage(await cli('restart', '--store', 'not a url', '1'), /is not a URL/);
    expectUsage(await cli('list'), /--store is required/);
  });

  it('an unreachable store is one line and exit 69', async () => {
    const r = await cli('stats', '--store', 'postgres://postgres@127.0.0.1:1/nope');
    expect(r.code).toBe(69);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^jqjobs stats: the store at postgres:\/\/postgres@127\.0\.0\.1:1\/nope is not usable/);
  });

  it('migrate: applies the PostgreSQL migrations once; other stores have none', async () => {
    db = await createTestDatabase('admin_migrate', { migrate: false });
    const unmigrated = await cli('stats', '--store', db.url);
    expect(unmigrated.code).toBe(69);
    expect(unmigrated.stderr).toMatch(/does not exist/);
    const first = await cli('migrate', '--store', db.url, '--json');
    expect(first.code, first.stderr).toBe(0);
    const applied = (JSON.parse(first.stdout) as { applied: string[] }).applied;
    expect(applied.length).toBeGreaterThan(0);
    const again = await cli('migrate', '--store', db.url);
    expect(again.stdout).toMatch(/schema is up to date/);
    expect((await cli('stats', '--store', db.url)).stdout).toBe('no jobs in the store\n');
    const pg = new PostgresStore({ connectionString: db.url }, { logger: 'silent' });
    try {
      expect(await pg.migrate()).toEqual([]);
    } finally {
      await pg.close();
    }
    expect((await cli('migrate', '--store', REDIS_URL, '--prefix', 'jq_admin_cli_unused')).stdout).toBe('the redis store has no schema to migrate\n');
    expect((await cli('migrate', '--store', 'memory:')).stdout).toBe('the memory store has no schema to migrate\n');
    expect(PG_URL).toMatch(/^postgres/);
  });
});
