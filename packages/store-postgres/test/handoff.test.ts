/**
 * Hand-off: an idle worker's wait registers an offer, and an enqueue hands its job
 * straight to it (inserted claimed, announced in the statement's NOTIFY). Failures:
 * lost notifications, stopped and killed workers, coalescing, several processes.
 */
import { type ClaimRequest, defineJob, Worker } from '@jqjobs/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getMigrations, PostgresStore } from '../src/index.ts';
import { killAllChildren, spawnChild } from './children.ts';
import { createTestDatabase, eventually, sleep, type TestDatabase } from './helpers.ts';

let db: TestDatabase;
let admin: pg.Client;
const open: PostgresStore[] = [];
let tableSeq = 0;

beforeAll(async () => {
  db = await createTestDatabase('handoff');
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
});
afterEach(async () => {
  killAllChildren();
  await Promise.all(open.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  killAllChildren();
  await admin?.end();
  await db?.drop();
});

interface OfferRow {
  id: string;
  worker_id: string;
  queues: string[] | null;
  job_id: string | null;
}

/** A producer and a consumer store on one fresh table (separate pools, as separate processes would have). */
async function pair(options: { notify?: boolean } = {}) {
  const table = `h${++tableSeq}`;
  const producer = new PostgresStore({ connectionString: db.url }, { table, logger: 'silent', ...options });
  const consumer = new PostgresStore({ connectionString: db.url }, { table, logger: 'silent', ...options });
  open.push(producer, consumer);
  await producer.migrate();
  const offers = async () => (await admin.query<OfferRow>(`select id, worker_id, queues, job_id::text from jqjobs."${table}_offers" order by created_at`)).rows;
  const row = async (id: string) =>
    (await admin.query(`select status, worker_id, attempt_number, claim_seq, started_at is not null as started, lease_until is not null as leased from jqjobs."${table}" where id = $1`, [id])).rows[0] as
      | { status: string; worker_id: string | null; attempt_number: number; claim_seq: number; started: boolean; leased: boolean }
      | undefined;
  return { table, producer, consumer, offers, row };
}

const request = (workerId = 'w1', queues: string[] | null = null): ClaimRequest => ({ workerId, queues, limit: 1, leaseMs: 30_000 });

async function listening(store: PostgresStore): Promise<void> {
  // The LISTEN connection starts with the first wait; offers are made only while it is up.
  await store.waitForWork(['__warmup__'], 1);
  await eventually(() => (store as unknown as { notifier: { listening: boolean } }).notifier.listening, 'the LISTEN connection');
}

/** A wait with an offer whose end can be inspected. */
function offering(store: PostgresStore, req: ClaimRequest, timeoutMs = 60_000, signal?: AbortSignal) {
  const state = { done: false };
  const promise = store.waitForWork(req.queues, timeoutMs, signal, req).then(() => void (state.done = true));
  return { state, promise };
}

describe('PostgresStore hand-off', () => {
  it('a job enqueued while a worker waits is handed over: running for that worker before any claim, then returned by claim()', async () => {
    const { producer, consumer, offers, row } = await pair();
    await listening(consumer);
    const req = request('worker-a');
    const w = offering(consumer, req);
    await eventually(async () => (await offers()).length === 1, 'the offer to be registered');
    expect((await offers())[0]).toMatchObject({ worker_id: 'worker-a', queues: null, job_id: null });

    const job = await producer.enqueue('h-job', { n: 1 });
    await eventually(() => w.state.done, 'the wait to end with the hand-off');
    // Claimed by the enqueue statement itself, exactly as a claim leaves a job.
    expect(await row(job.id)).toEqual({ status: 'running', worker_id: 'worker-a', attempt_number: 1, claim_seq: 1, started: true, leased: true });
    const got = await producer.get(job.id);
    expect(got).toMatchObject({ status: 'running', attemptNumber: 1, endedAt: null, errorMessage: null });
    expect(got.startedAt).toBeInstanceOf(Date);

    const [claimed, ...rest] = await consumer.claim(req);
    expect(rest).toEqual([]);
    expect(claimed!.job).toMatchObject({ id: job.id, payload: { n: 1 }, status: 'running', attemptNumber: 1, queueName: 'default' });
    expect(claimed!.claim).toEqual({ jobId: job.id, token: `${job.id}:1` });
    // The offer was used once and then cleaned up by its owner.
    await eventually(async () => (await offers()).length === 0, 'the used offer to be deleted');
    const s = await consumer.settle(claimed!.claim, { status: 'completed', delete: false });
    expect(s).toMatchObject({ applied: true, job: { status: 'completed' } });
    // Nothing else is handed over or claimable.
    expect(await consumer.claim(req)).toEqual([]);
  });

  it('hands over only jobs that are due, on a queue the offer takes', async () => {
    const { producer, consumer, offers, row } = await pair();
    await listening(consumer);
    const w = offering(consumer, request('w', ['mail']));
    await eventually(async () => (await offers()).length === 1, 'the offer');
    const later = await producer.enqueue('h-job', {}, { queueName: 'mail', startAt: new Date(Date.now() + 3_600_000) });
    const elsewhere = await producer.enqueue('h-job', {}, { queueName: 'other' });
    await sleep(200);
    expect((await row(later.id))!.status).toBe('queued');
    expect((await row(elsewhere.id))!.status).toBe('queued');
    expect(w.state.done).toBe(false);
    expect((await offers())[0]!.job_id).toBeNull();
    const due = await producer.enqueue('h-job', {}, { queueName: 'mail' });
    await eventually(() => w.state.done, 'the hand-off');
    expect((await row(due.id))!.status).toBe('running');
  });

  it('hands the highest-priority due job of a batch to the offer, and announces the rest', async () => {
    const { producer, consumer, offers, row } = await pair();
    await listening(consumer);
    const a = offering(consumer, request('w-a'));
    await eventually(async () => (await offers()).length === 1, 'the offer');
    const plain = offering(consumer, request('w-plain'), 60_000);
    // A wait without a request (as a polling caller would make) is woken by the announcement of the rest.
    const woken = { done: false };
    void consumer.waitForWork(null, 60_000).then(() => (woken.done = true));
    await eventually(async () => (await offers()).length === 2, 'the second offer');
    const jobs = await producer.enqueueMany([
      { type: 'h-job', payload: { k: 'low' }, options: { priority: 1 } },
      { type: 'h-job', payload: { k: 'high' }, options: { priority: 5 } },
      { type: 'h-job', payload: { k: 'later' }, options: { priority: 9, startAt: new Date(Date.now() + 3_600_000) } },
    ]);
    await eventually(() => a.state.done, 'the hand-off to the oldest offer');
    // One at a time: the admin client is a single connection.
    const statuses: string[] = [];
    for (const j of jobs) statuses.push((await row(j.id))!.status);
    expect(statuses).toEqual(['queued', 'running', 'queued']);
    expect((await consumer.claim(request('w-a')))[0]!.job.payload).toEqual({ k: 'high' });
    await eventually(() => plain.state.done && woken.done, 'the other waits to wake for the job left queued');
  });

  it('a coalesced enqueue is never handed over: one job, handed at most once', async () => {
    const { producer, consumer, offers, row } = await pair();
    await listening(consumer);
    const w1 = offering(consumer, request('w1'));
    await eventually(async () => (await offers()).length === 1, 'the first offer');
    const first = await producer.enqueue('h-job', { v: 1 }, { coalesceId: 'same' });
    await eventually(() => w1.state.done, 'the hand-off');
    expect((await row(first.id))!.status).toBe('running');
    expect((await consumer.claim(request('w1')))[0]!.job.id).toBe(first.id);

    const w2 = offering(consumer, request('w2'));
    await eventually(async () => (await offers()).some((o) => o.worker_id === 'w2'), 'the second offer');
    // Concurrent enqueues of one coalesce id share a statement; again later, alone.
    const again = await Promise.all([producer.enqueue('h-job', { v: 2 }, { coalesceId: 'same' }), producer.enqueue('h-job', { v: 3 }, { coalesceId: 'same' })]);
    const alone = await producer.enqueue('h-job', { v: 4 }, { coalesceId: 'same' });
    for (const j of [...again, alone]) expect(j).toMatchObject({ id: first.id, coalesced: true, payload: { v: 1 } });
    await sleep(200);
    expect(w2.state.done).toBe(false);
    expect((await offers()).find((o) => o.worker_id === 'w2')!.job_id).toBeNull();
    expect(await producer.count()).toBe(1);

    // A new coalesce id in the same batch as a duplicate: one job, handed once.
    const both = await Promise.all([producer.enqueue('h-job', { v: 5 }, { coalesceId: 'fresh' }), producer.enqueue('h-job', { v: 6 }, { coalesceId: 'fresh' })]);
    expect(both[0]!.id).toBe(both[1]!.id);
    expect(both.filter((j) => j.coalesced)).toHaveLength(1);
    await eventually(() => w2.state.done, 'the hand-off of the new job');
    expect(await row(both[0]!.id)).toMatchObject({ status: 'running', worker_id: 'w2', attempt_number: 1 });
    expect(await producer.count()).toBe(2);
  });

  it('a large payload that does not fit in NOTIFY is read back by id', async () => {
    const { producer, consumer, offers } = await pair();
    await listening(consumer);
    const req = request();
    const w = offering(consumer, req);
    await eventually(async () => (await offers()).length === 1, 'the offer');
    const big = { text: 'x'.repeat(20_000) };
    const job = await producer.enqueue('h-job', big);
    await eventually(() => w.state.done, 'the hand-off');
    await eventually(async () => (await offers()).length === 0, 'the offer to be withdrawn');
    const [c] = await consumer.claim(req);
    expect(c!.job).toMatchObject({ id: job.id, status: 'running', payload: big });
  });

  it('a wait that ends without a hand-off withdraws its offer; an aborted one before it returns', async () => {
    const { producer, consumer, offers, row } = await pair();
    await listening(consumer);
    const short = offering(consumer, request(), 200);
    await eventually(async () => (await offers()).length === 1, 'the offer');
    await short.promise;
    await eventually(async () => (await offers()).length === 0, 'the timed-out offer to be withdrawn');

    const stop = new AbortController();
    const aborted = offering(consumer, request(), 60_000, stop.signal);
    await eventually(async () => (await offers()).length === 1, 'the offer');
    stop.abort();
    await aborted.promise;
    expect(await offers()).toEqual([]);
    const job = await producer.enqueue('h-job', {});
    await sleep(100);
    expect((await row(job.id))!.status).toBe('queued');
  });

  it('a job handed to a wait whose worker never claims it goes back to the queue, attempt unchanged', async () => {
    const { producer, consumer, offers, row } = await pair();
    await listening(consumer);
    const w = offering(consumer, request());
    await eventually(async () => (await offers()).length === 1, 'the offer');
    const job = await producer.enqueue('h-job', {});
    await w.promise;
    expect((await row(job.id))!.status).toBe('running');
    // The worker stopped instead of claiming: the store hands the job back by itself.
    await eventually(async () => (await row(job.id))!.status === 'queued', 'the unclaimed job to go back to the queue', 10_000);
    expect(await row(job.id)).toMatchObject({ attempt_number: 0, started: false, leased: false });
    const [c] = await producer.claim(request('other'));
    expect(c!.job).toMatchObject({ id: job.id, attemptNumber: 1 });
  });

  it('a stopped Worker leaves no job behind: close() hands stashed jobs back and withdraws offers', async () => {
    const { producer, consumer, offers, row } = await pair();
    await listening(consumer);
    const w = offering(consumer, request());
    await eventually(async () => (await offers()).length === 1, 'the offer');
    const job = await producer.enqueue('h-job', {});
    await w.promise;
    const w2 = offering(consumer, request('w2', ['never']));
    await eventually(async () => (await offers()).some((o) => o.worker_id === 'w2'), 'a second offer');
    await consumer.close();
    expect((await row(job.id))!.status).toBe('queued');
    expect(await offers()).toEqual([]);
    await w2.promise;
  });

  it('a hand-off whose notification is lost is found when the offer is withdrawn', async () => {
    const { producer, consumer, offers, row } = await pair();
    await listening(consumer);
    // Drop the next hand-off notification, as a LISTEN connection that died at that moment would.
    const notifier = (consumer as unknown as { notifier: { onHandoff: ((h: unknown[]) => void) | null } }).notifier;
    const deliver = notifier.onHandoff;
    notifier.onHandoff = () => {
      notifier.onHandoff = deliver;
    };
    const req = request();
    const w = offering(consumer, req, 500);
    await eventually(async () => (await offers()).length === 1, 'the offer');
    const job = await producer.enqueue('h-job', { lost: true });
    await w.promise;
    expect((await row(job.id))!.status).toBe('running');
    // The withdrawal reports the job; the store takes it, and the next claim returns it.
    let got: Awaited<ReturnType<PostgresStore['claim']>> = [];
    await eventually(async () => (got = await consumer.claim(req)).length > 0, 'the recovered job');
    expect(got[0]!.job).toMatchObject({ id: job.id, payload: { lost: true } });
    expect(await offers()).toEqual([]);
  });

  it('the LISTEN connection killed while workers wait with offers: no job is lost or run twice', { timeout: 60_000 }, async () => {
    const { producer, consumer, offers } = await pair();
    const ran: number[] = [];
    const t = defineJob<{ i: number }>({ name: 'h-listen', run: (p) => void ran.push(p.i) });
    const worker = new Worker(consumer, { jobs: [t], concurrency: 2, wakeupEvery: 3600, enableJitter: false, detectHungJobsEvery: 0, logger: 'silent' });
    const running = worker.start();
    let n = 0;
    for (let round = 0; round < 5; round++) {
      await eventually(async () => (await offers()).filter((o) => o.job_id === null).length >= 1, 'an offer');
      // Kill the LISTEN backend and enqueue at once: the hand-off may go to an offer whose notification is lost.
      const kill = admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen %'`);
      await Promise.all([kill, producer.enqueue(t, { i: n++ }), producer.enqueue(t, { i: n++ })]);
      await eventually(() => ran.length === n, `round ${round}: every job to run`, 20_000);
    }
    worker.stop();
    await running;
    expect([...ran].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(await producer.count({ status: ['queued', 'running'] })).toBe(0);
  });

  it.each([
    ['0002', 'without the offers table'],
    ['0003', 'with offers but no lock_key'],
  ])('a table not yet migrated to %s (%s): enqueues and workers carry on without hand-offs', async (upTo) => {
    const table = `h${++tableSeq}`;
    for (const m of getMigrations({ table }).filter((m) => m.tag < upTo)) for (const st of m.statements) await admin.query(st);
    const producer = new PostgresStore({ connectionString: db.url }, { table, logger: 'silent' });
    const consumer = new PostgresStore({ connectionString: db.url }, { table, logger: 'silent' });
    open.push(producer, consumer);
    const ran: number[] = [];
    const t = defineJob<{ i: number }>({ name: 'h-old', run: (p) => void ran.push(p.i) });
    const worker = new Worker(consumer, { jobs: [t], wakeupEvery: 3600, enableJitter: false, logger: 'silent' });
    const running = worker.start();
    await listening(consumer);
    await sleep(100);
    for (let i = 0; i < 3; i++) {
      await producer.enqueue(t, { i });
      await producer.enqueue(t, { i: 10 + i }, { coalesceId: `c${i}` });
    }
    await eventually(() => ran.length === 6, 'every job to run (woken by NOTIFY)');
    worker.stop();
    await running;
  });

  it('a store vacuums the offers table it churns, instead of waiting for autovacuum', { timeout: 60_000 }, async () => {
    const { table, consumer, offers } = await pair();
    await listening(consumer);
    const req = request();
    // 600 waits that time out at once: 600 offers registered and withdrawn.
    for (let i = 0; i < 600; i++) await consumer.waitForWork(null, 1, undefined, req);
    await eventually(async () => {
      const r = await admin.query(`select vacuum_count::int as n from pg_stat_user_tables where relname = $1`, [`${table}_offers`]);
      return (r.rows[0]?.n ?? 0) > 0;
    }, 'a vacuum of the offers table');
    await eventually(async () => (await offers()).length === 0, 'every offer withdrawn');
  });

  it('with notify: false no offers are made; workers poll as before', async () => {
    const { producer, consumer, offers } = await pair({ notify: false });
    const ran: number[] = [];
    const t = defineJob<{ i: number }>({ name: 'h-poll', run: (p) => void ran.push(p.i) });
    const worker = new Worker(consumer, { jobs: [t], wakeupEvery: 0.1, enableJitter: false, logger: 'silent' });
    const running = worker.start();
    await sleep(200);
    expect(await offers()).toEqual([]);
    await producer.enqueue(t, { i: 1 });
    await eventually(() => ran.length === 1, 'the polled job');
    expect(await offers()).toEqual([]);
    worker.stop();
    await running;
  });
});

describe('PostgresStore hand-off across processes', () => {
  it('3 idle worker processes and one enqueuer: every job runs exactly once, mostly through offers', { timeout: 120_000 }, async () => {
    const { table, producer, offers } = await pair();
    const children = Array.from({ length: 3 }, () => spawnChild('serve', { url: db.url, table, concurrency: 2 }));
    await Promise.all(children.map((c) => c.ready));
    await eventually(async () => (await offers()).length >= 3, 'the children to wait with offers');
    const t = defineJob<{ i: number }>({ name: 'mp-serve', run: () => {} });
    const N = 150;
    for (let i = 0; i < N; ) {
      // Singles, and now and then a few at once (one statement: one hand-off, the rest announced).
      if (i % 10 === 0 && i + 3 <= N) {
        await Promise.all([0, 1, 2].map((k) => producer.enqueue(t, { i: i + k })));
        i += 3;
      } else {
        await producer.enqueue(t, { i: i++ });
      }
      await sleep(3);
    }
    const runs = () => children.flatMap((c) => c.lines.filter((l) => typeof l.ran === 'number'));
    await eventually(() => runs().length >= N, 'every job to run', 60_000);
    await sleep(300);
    const counts = new Map<number, number>();
    for (const l of runs()) counts.set(l.ran as number, (counts.get(l.ran as number) ?? 0) + 1);
    expect(counts.size).toBe(N);
    expect([...counts.values()].every((k) => k === 1)).toBe(true);
    expect(runs().every((l) => l.attempt === 1)).toBe(true);
    // Offers were used: an offer row is updated only by a hand-off.
    await eventually(async () => {
      const r = await admin.query(`select n_tup_upd::int as n from pg_stat_user_tables where relname = $1`, [`${table}_offers`]);
      return (r.rows[0]?.n ?? 0) >= 10;
    }, 'hand-offs to be counted in pg_stat_user_tables');
    for (const c of children) c.go();
    expect(await Promise.all(children.map((c) => c.exited))).toEqual([0, 0, 0]);
    await eventually(async () => (await offers()).length === 0, 'the stopped children to withdraw their offers');
    expect(await producer.count({ status: ['queued', 'running'] })).toBe(0);
  });

  it('a worker process SIGKILLed while its offer is open: enqueues skip its offer and hand jobs to a live worker', { timeout: 120_000 }, async () => {
    const { table, producer, consumer, offers, row } = await pair();
    // The child waits 60 s, so its offer stays within its deadline for the whole test.
    const child = spawnChild('serve', { url: db.url, table, heartbeatSeconds: 1 });
    await child.ready;
    await eventually(async () => (await offers()).length === 1, "the child's offer");
    const lockHeld = async () =>
      (await admin.query(`select not pg_try_advisory_xact_lock_shared(lock_key) as held from jqjobs."${table}_offers"`)).rows[0].held as boolean;
    expect(await lockHeld()).toBe(true);
    child.proc.kill('SIGKILL');
    expect(await child.exited).toBeNull();
    // Its sessions end with it (the server notices the closed socket), and with them the offer's lock.
    await eventually(async () => !(await lockHeld()), "the dead worker's lock to go");

    // A surviving worker; the dead worker's offer is older, so without the lock check the enqueue would hand the job to it.
    const ran: { id: string; attempt: number }[] = [];
    const t = defineJob<{ i: number }>({ name: 'mp-serve', run: (_p, ctx) => void ran.push({ id: ctx.job.id, attempt: ctx.job.attemptNumber }) });
    const worker = new Worker(consumer, { jobs: [t], enableJitter: false, wakeupEvery: 120, heartbeatSeconds: 1, detectHungJobsEvery: 0, logger: 'silent' });
    const running = worker.start();
    await eventually(async () => (await offers()).filter((o) => o.job_id === null).length === 2, 'both offers');
    const job = await producer.enqueue(t, { i: 1 });
    // Handed to the live worker inside the enqueue: running for it (not for the dead one), and run once, at once.
    const r = await row(job.id);
    expect(r === undefined || r.worker_id === worker.id).toBe(true);
    await eventually(() => ran.length === 1, 'the job to run on the live worker', 10_000);
    expect(ran).toEqual([{ id: job.id, attempt: 1 }]);
    const dead = (await offers()).filter((o) => o.worker_id !== worker.id);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.job_id).toBeNull();
    worker.stop();
    await running;
  });
});
