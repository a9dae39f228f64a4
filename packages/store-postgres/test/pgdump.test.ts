/**
 * No table locks: everything keeps working while another session holds the
 * locks pg_dump takes (ACCESS SHARE on the table, in a repeatable-read
 * snapshot), and while a real pg_dump runs.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { defineJob, Worker } from '@jqjobs/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers.ts';

const PG_DUMP = '/usr/lib/postgresql/15/bin/pg_dump';

let db: TestDatabase;
let store: PostgresStore;
let holder: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('dump');
  store = new PostgresStore({ connectionString: db.url }, { logger: 'silent' });
  await store.migrate();
  holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
});
afterAll(async () => {
  await holder?.end().catch(() => undefined);
  await store?.close();
  await db?.drop();
});

/** Resolves with fn's result, or fails if it is still blocked after `ms` (a hang guard, far above normal). */
async function notBlocked<T>(what: string, fn: () => Promise<T>, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} is blocked by the pg_dump-style lock`)), ms);
  });
  try {
    return await Promise.race([fn(), guard]);
  } finally {
    clearTimeout(timer);
  }
}

describe('PostgresStore beside pg_dump', () => {
  it('enqueue (with and without coalescing), claim, settle, restart, locks and sweeps finish while ACCESS SHARE is held', async () => {
    const t = defineJob<{ n: number }>({ name: 'dump-job', run: () => {}, options: { deleteOnComplete: false } });
    await holder.query('begin isolation level repeatable read');
    await holder.query(`lock table "${store.schema}"."${store.table}" in access share mode`);
    await holder.query(`select count(*) from "${store.schema}"."${store.table}"`);
    try {
      const a = await notBlocked('enqueue', () => store.enqueue(t, { n: 1 }));
      const b = await notBlocked('enqueue with coalesceId', () => store.enqueue(t, { n: 2 }, { coalesceId: 'dump:1' }));
      const again = await notBlocked('coalescing enqueue', () => store.enqueue(t, { n: 3 }, { coalesceId: 'dump:1' }));
      expect(again).toMatchObject({ id: b.id, coalesced: true });
      await notBlocked('enqueueMany', () => store.enqueueMany([{ type: t, payload: { n: 4 } }, { type: t, payload: { n: 5 }, options: { coalesceId: 'dump:2' } }]));
      const claimed = await notBlocked('claim', () => store.claim({ workerId: 'dump', queues: null, limit: 10, leaseMs: 30_000 }));
      expect(claimed).toHaveLength(4);
      const [first, ...rest] = claimed;
      await notBlocked('settle (complete, delete)', () => store.settle(first!.claim, { status: 'completed', delete: true }));
      await notBlocked('settle (retry) + next claim', () => store.settle(rest[0]!.claim, { status: 'queued', error: 'x', delayMs: 0, maxAttempts: 2 }, { workerId: 'dump', queues: null, limit: 1, leaseMs: 30_000 }));
      await notBlocked('settle (complete, keep)', () => store.settle(rest[1]!.claim, { status: 'completed', delete: false }));
      await notBlocked('extendLeases', () => store.extendLeases([rest[2]!.claim], 30_000));
      expect(first!.job.id).toBe(a.id);
      await notBlocked('restart', () => store.restart(rest[1]!.job.id));
      await notBlocked('withLock', () => store.withLock(rest[1]!.job.id, (j) => j.id));
      await notBlocked('release', () => store.release([rest[2]!.claim]));
      await notBlocked('detectHungJobs', () => store.detectHungJobs());
      await notBlocked('stats', () => store.stats());
      await notBlocked('delete', () => store.delete(b.id));
      await notBlocked('migrate (nothing to do)', () => store.migrate());
      // A worker drains what is left.
      await notBlocked('a Worker run', () => new Worker(store, { jobs: [t], exitIfNoJobs: true, enableJitter: false, logger: 'silent', concurrency: 4 }).start());
      // And no session ever waited for a lock.
      const waiting = await holder.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
      expect(waiting.rows[0].n).toBe(0);
    } finally {
      await holder.query('rollback');
    }
  });

  it('a real pg_dump runs while a worker drains and producers enqueue', { timeout: 120_000 }, async () => {
    const t = defineJob<{ n: number }>({ name: 'dump-drain', run: () => {} });
    await store.enqueueMany(Array.from({ length: 3000 }, (_, n) => ({ type: t, payload: { n } })));
    const worker = new Worker(store, { jobs: [t], exitIfNoJobs: true, enableJitter: false, logger: 'silent', concurrency: 8 });
    const producing = (async () => {
      for (let n = 0; n < 300; n++) await store.enqueue(t, { n }, n % 3 === 0 ? { coalesceId: `dump-drain:${n % 30}` } : {});
    })();
    const dumps = (async () => {
      for (let i = 0; i < 3; i++) await promisify(execFile)(PG_DUMP, ['--dbname', db.url, '--table', `${store.schema}.${store.table}`, '--file', '/dev/null']);
    })();
    await Promise.all([notBlocked('worker', () => worker.start(), 90_000), producing, dumps]);
    // Jobs enqueued after the worker stopped by itself are still there; run them too.
    await new Worker(store, { jobs: [t], exitIfNoJobs: true, enableJitter: false, logger: 'silent', concurrency: 8 }).start();
    expect(await store.count({ status: ['queued', 'running'] })).toBe(0);
  });
});
