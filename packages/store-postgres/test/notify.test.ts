/** Wake-ups: LISTEN/NOTIFY between store instances, how many waiters wake, reconnects, and notify: false. */
import { defineJob, Worker } from '@jqjobs/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/index.ts';
import { createTestDatabase, eventually, sleep, type TestDatabase } from './helpers.ts';

let db: TestDatabase;
let admin: pg.Client;
const open: PostgresStore[] = [];
let tableSeq = 0;

beforeAll(async () => {
  db = await createTestDatabase('notify');
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

/** Two stores on one fresh table: a producer and a consumer (separate pools, as separate processes would have). */
async function pair(options: { notify?: boolean } = {}) {
  const table = `n${++tableSeq}`;
  const producer = new PostgresStore({ connectionString: db.url }, { table, logger: 'silent', ...options });
  const consumer = new PostgresStore({ connectionString: db.url }, { table, logger: 'silent', ...options });
  open.push(producer, consumer);
  await producer.migrate();
  return { producer, consumer };
}

/** A waitForWork call whose completion can be inspected. */
function waiting(store: PostgresStore, queues: string[] | null = null, timeoutMs = 60_000) {
  const state = { done: false };
  const promise = store.waitForWork(queues, timeoutMs).then(() => void (state.done = true));
  return { state, promise };
}

async function listening(store: PostgresStore): Promise<void> {
  // The LISTEN connection starts with the first wait; make sure it is up before producing.
  const w = waiting(store, ['__warmup__'], 1);
  await w.promise;
  await eventually(async () => {
    const r = await admin.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen %'`);
    return r.rows[0].n > 0;
  }, 'the LISTEN connection');
}

describe('PostgresStore wake-ups', () => {
  it('declares push wake-ups, and not with notify: false', async () => {
    const { consumer } = await pair();
    expect(consumer.capabilities).toEqual({ pushWakeups: true, sharedAcrossProcesses: true, durable: true });
    const quiet = new PostgresStore({ connectionString: db.url }, { notify: false, logger: 'silent' });
    open.push(quiet);
    expect(quiet.capabilities.pushWakeups).toBe(false);
  });

  it('an enqueue through another store wakes one waiting worker per job, on matching queues only', async () => {
    const { producer, consumer } = await pair();
    await listening(consumer);
    const a = waiting(consumer, ['mail']);
    const b = waiting(consumer, ['mail']);
    const other = waiting(consumer, ['other']);
    await producer.enqueue('n-job', {}, { queueName: 'mail' });
    await eventually(() => a.state.done || b.state.done, 'one waiter to wake');
    await sleep(300);
    // One job: one waiter woke; the other and the one on another queue still wait.
    expect([a.state.done, b.state.done].filter(Boolean)).toHaveLength(1);
    expect(other.state.done).toBe(false);
    await producer.enqueueMany([
      { type: 'n-job', payload: {}, options: { queueName: 'other' } },
      { type: 'n-job', payload: {}, options: { queueName: 'mail' } },
    ]);
    await eventually(() => a.state.done && b.state.done && other.state.done, 'the other waiters to wake');
  });

  it('a waiter for all queues wakes for any queue, with names that need quoting', async () => {
    const { producer, consumer } = await pair();
    await listening(consumer);
    const any = waiting(consumer, null);
    const named = waiting(consumer, ['q "quoted" ; ✓ \\ $1']);
    await producer.enqueue('n-job', {}, { queueName: 'q "quoted" ; ✓ \\ $1' });
    await producer.enqueue('n-job', {}, { queueName: 'q "quoted" ; ✓ \\ $1' });
    await eventually(() => any.state.done && named.state.done, 'both waiters');
  });

  it('a job that arrived while the claim was running is not missed by the wait that follows it', async () => {
    const { producer, consumer } = await pair();
    await listening(consumer);
    expect(await consumer.claim({ workerId: 'w', queues: null, limit: 1, leaseMs: 30_000 })).toEqual([]);
    // The notification lands between the (empty) claim and the wait.
    const seen = (consumer as unknown as { notifier: { current: number } }).notifier;
    const before = seen.current;
    await producer.enqueue('n-job', {});
    await eventually(() => seen.current > before, 'the notification to arrive');
    const w = waiting(consumer, null, 60_000);
    await eventually(() => w.state.done, 'the wait to return at once');
    expect(await consumer.claim({ workerId: 'w', queues: null, limit: 1, leaseMs: 30_000 })).toHaveLength(1);
  });

  it('reconnects a lost LISTEN connection and wakes waiters again', async () => {
    const { producer, consumer } = await pair();
    await listening(consumer);
    const killed = await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen %'`);
    expect(killed.rowCount).toBeGreaterThan(0);
    await eventually(async () => {
      const r = await admin.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen %'`);
      return r.rows[0].n > 0;
    }, 'the LISTEN connection to come back');
    const w = waiting(consumer);
    await producer.enqueue('n-job', {});
    await eventually(() => w.state.done, 'a wake-up after the reconnect');
  });

  it('an idle Worker whose poll interval is an hour still starts a job enqueued elsewhere', async () => {
    const { producer, consumer } = await pair();
    const ran: number[] = [];
    const t = defineJob<{ n: number }>({ name: 'n-worker', run: (p) => void ran.push(p.n) });
    const worker = new Worker(consumer, { jobs: [t], wakeupEvery: 3600, enableJitter: false, logger: 'silent' });
    const running = worker.start();
    await listening(consumer);
    await sleep(100);
    for (let n = 0; n < 5; n++) {
      await producer.enqueue(t, { n });
      await eventually(() => ran.length === n + 1, `job ${n} to start`);
    }
    worker.stop();
    await running;
  });

  it('with notify: false there is no LISTEN connection; local enqueues still wake local waiters', async () => {
    const { producer, consumer } = await pair({ notify: false });
    const w = waiting(consumer, null, 60_000);
    await producer.enqueue('n-job', {});
    await sleep(300);
    expect(w.state.done).toBe(false); // another store instance cannot wake it: polling only
    const r = await admin.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and query ilike 'listen %'`);
    expect(r.rows[0].n).toBe(0);
    await consumer.enqueue('n-job', {});
    await eventually(() => w.state.done, 'the local wake-up');
  });
});
