import { defineJob, type JobDefinition, type Logger, StoreConnectionError, Worker, type WorkerOptions } from '@jqjobs/core';
import { eventually, req, TestClock } from '@jqjobs/store-test-suite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore, type RedisStoreOptions } from '../src/index.ts';
import { adminClient, dropPrefix, killConnections, REDIS_URL, requireRedis, startRedisServer } from './helpers.ts';

const FILE_PREFIX = `jqtest-wake-${process.pid}`;
const admin = adminClient();
const cleanup: (() => Promise<unknown>)[] = [];
let n = 0;

function makeStore(options: RedisStoreOptions = {}): RedisStore {
  const id = ++n;
  const store = new RedisStore({ url: REDIS_URL }, { prefix: `${FILE_PREFIX}-${id}`, connectionName: `${FILE_PREFIX}-${id}`, logger: 'silent', ...options });
  cleanup.push(async () => {
    await store.close();
    await dropPrefix(admin, store.prefix);
  });
  return store;
}

function worker(store: RedisStore, jobs: readonly JobDefinition<never>[], extra: Partial<WorkerOptions> = {}): Worker {
  const w = new Worker(store, { jobs, enableJitter: false, logger: 'silent', wakeupEvery: 60, detectHungJobsEvery: 0, ...extra });
  cleanup.unshift(async () => {
    w.stop();
    if (w.inFlight > 0) await w.shutdown(1);
  });
  return w;
}

beforeAll(() => requireRedis());
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});
afterAll(() => {
  admin.disconnect();
});

describe('wake-ups', () => {
  it('an idle worker starts a job enqueued later at once, not at its next poll (60 s)', async () => {
    const store = makeStore();
    const ran: number[] = [];
    const t = defineJob<number>({ name: 'wake-basic', run: (i) => void ran.push(i) });
    const done = worker(store, [t]).start();
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 10));
      await store.enqueue(t, i);
      await eventually(() => ran.length === i + 1, `job ${i} ran`, 5000);
    }
    expect(ran).toEqual(Array.from({ length: 20 }, (_, i) => i));
    void done;
  });

  it('wakes several idle workers for a batch', async () => {
    const store = makeStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const started: string[] = [];
    const t = defineJob<number>({
      name: 'wake-many',
      run: async () => {
        started.push('x');
        await gate;
      },
    });
    const ws = [worker(store, [t]), worker(store, [t]), worker(store, [t])];
    for (const w of ws) void w.start();
    await new Promise((r) => setTimeout(r, 100));
    await store.enqueueMany([1, 2, 3].map((i) => ({ type: t, payload: i })));
    await eventually(() => started.length === 3, 'three workers each started a job', 5000);
    expect(ws.map((w) => w.inFlight)).toEqual([1, 1, 1]);
    release();
  });

  it('an idle worker wakes when a delayed job falls due', async () => {
    const store = makeStore();
    const ran: number[] = [];
    const t = defineJob<number>({ name: 'wake-delayed', run: (i) => void ran.push(i) });
    void worker(store, [t]).start();
    await new Promise((r) => setTimeout(r, 50));
    await store.enqueue(t, 1, { startAt: Date.now() + 300 });
    await eventually(() => ran.length === 1, 'delayed job ran', 5000);
  });

  it('keeps consuming after its wake-up connection is killed while idle', async () => {
    const store = makeStore();
    const ran: number[] = [];
    const t = defineJob<number>({ name: 'wake-kill', run: (i) => void ran.push(i) });
    void worker(store, [t]).start();
    for (let round = 0; round < 5; round++) {
      await eventually(async () => (await killConnections(admin, `${store.prefix}:wait`)) > 0, 'the idle worker’s wake-up connection was killed', 5000);
      await new Promise((r) => setTimeout(r, 50));
      await store.enqueue(t, round);
      await eventually(() => ran.length === round + 1, `job ${round} ran after the kill`, 5000);
    }
  });

  it('keeps consuming after every connection of the store is killed, mid-run, repeatedly', { timeout: 60_000 }, async () => {
    const store = makeStore();
    const runs = new Map<number, number>();
    const t = defineJob<number>({
      name: 'wake-kill-all',
      run: async (i) => {
        runs.set(i, (runs.get(i) ?? 0) + 1);
        await new Promise((r) => setImmediate(r));
      },
    });
    const total = 3000;
    await store.enqueueMany(Array.from({ length: total }, (_, i) => ({ type: t, payload: i })));
    const w = worker(store, [t], { concurrency: 8, heartbeatSeconds: 1 });
    const done = w.start();
    let kills = 0;
    while (runs.size < total && kills < 50) {
      await new Promise((r) => setTimeout(r, 15));
      kills += await killConnections(admin, store.prefix);
    }
    await eventually(async () => runs.size === total && (await store.count()) === 0, 'every job ran and none is left', 30_000);
    w.stop();
    await done;
    expect(kills).toBeGreaterThan(0);
    expect([...runs.values()].filter((c) => c !== 1)).toEqual([]);
  });
});

describe('hand-off to idle workers', () => {
  it('a job that falls due while a worker waits is claimed for it and taken by its next claim', async () => {
    const store = makeStore();
    const other = new RedisStore({ url: REDIS_URL }, { prefix: store.prefix, logger: 'silent' });
    cleanup.unshift(() => other.close());
    const t = defineJob<number>({ name: 'handoff', run: () => {} });
    expect(await store.claim(req(1, ['h']))).toEqual([]);
    const waiting = store.waitForWork(['h'], 10_000);
    await eventually(async () => (await admin.zcard(`{${store.prefix}}:of`)) === 1, 'the offer is registered', 5000);
    const job = await other.enqueue(t, 7, { queueName: 'h' });
    await waiting;
    // Claimed in Redis for the waiting worker already.
    expect(await other.get(job.id)).toMatchObject({ status: 'running', attemptNumber: 1 });
    const [c] = await store.claim(req(5, ['h']));
    expect(c?.job).toMatchObject({ id: job.id, payload: 7, status: 'running' });
    expect((await store.settle(c!.claim, { status: 'completed', delete: true })).applied).toBe(true);
    expect(await admin.zcard(`{${store.prefix}}:of`)).toBe(0);
  });

  it('a job enqueued for a waiting worker does not overtake a delayed job that fell due unpromoted', async () => {
    // A frozen clock: the wait does not end when the delayed job falls due, so the
    // job is due but still in its delayed set when the next enqueue arrives.
    const clock = new TestClock();
    clock.freeze();
    const store = makeStore({ clock });
    const other = new RedisStore({ url: REDIS_URL }, { prefix: store.prefix, logger: 'silent', clock });
    cleanup.unshift(() => other.close());
    const t = defineJob<string>({ name: 'handoff-order', run: () => {} });
    const delayed = await other.enqueue(t, 'delayed', { queueName: 'o', startAt: new Date(clock.now() + 1000) });
    for (const queues of [['o'], null]) {
      // For the offer on every queue, a delayed job in another queue, enqueued before the offer.
      const other2 = queues ? null : await other.enqueue(t, 'delayed-2', { queueName: 'p', startAt: new Date(clock.now() + 1000) });
      const waiting = store.waitForWork(queues, 10_000);
      await eventually(async () => (await admin.zcard(`{${store.prefix}}:of`)) === 1, 'the offer is registered', 5000);
      clock.advance(1500);
      const fresh = await other.enqueue(t, 'fresh', { queueName: 'o' });
      await waiting;
      // The offer got the job due first; the new one waits its turn.
      const first = other2 ?? delayed;
      expect((await other.get(first.id)).status).toBe('running');
      expect((await other.get(fresh.id)).status).toBe('queued');
      const [c] = await store.claim(req(1, queues));
      expect(c?.job.id).toBe(first.id);
      await store.settle(c!.claim, { status: 'completed', delete: true });
      const [d] = await store.claim(req(1, queues));
      expect(d?.job.id).toBe(fresh.id);
      await store.settle(d!.claim, { status: 'completed', delete: true });
    }
  });

  it('a handed job nobody claims goes back to its queue, unchanged; so does one held at close()', async () => {
    const store = makeStore();
    const other = new RedisStore({ url: REDIS_URL }, { prefix: store.prefix, logger: 'silent' });
    cleanup.unshift(() => other.close());
    const t = defineJob<number>({ name: 'handoff-back', run: () => {} });
    const waiting = store.waitForWork(null, 10_000);
    await eventually(async () => (await admin.zcard(`{${store.prefix}}:of`)) === 1, 'the offer is registered', 5000);
    const a = await other.enqueue(t, 1);
    await waiting;
    expect((await other.get(a.id)).status).toBe('running');
    await eventually(async () => (await other.get(a.id)).status === 'queued', 'the unclaimed job went back', 5000);
    expect(await other.get(a.id)).toMatchObject({ attemptNumber: 0 });
    // A wait that finds a due job takes it at once.
    await store.waitForWork(null, 10_000);
    expect((await other.get(a.id)).status).toBe('running');
    await store.close();
    expect(await other.get(a.id)).toMatchObject({ status: 'queued', attemptNumber: 0 });
    expect(await admin.keys(`{${store.prefix}}:mb:*`)).toEqual([]);
    expect(await admin.zcard(`{${store.prefix}}:of`)).toBe(0);
  });

  it('an offer is withdrawn when the wait ends without a job', async () => {
    const store = makeStore();
    const ac = new AbortController();
    const waiting = store.waitForWork(['x', 'y'], 10_000, ac.signal);
    await eventually(async () => (await admin.zcard(`{${store.prefix}}:of`)) === 1, 'the offer is registered', 5000);
    ac.abort();
    await waiting;
    await eventually(async () => (await admin.zcard(`{${store.prefix}}:of`)) === 0, 'the offer is withdrawn', 5000);
    await store.waitForWork(['x'], 50);
    await eventually(async () => (await admin.zcard(`{${store.prefix}}:of`)) === 0, 'the offer is withdrawn after a timeout', 5000);
  });
});

describe('a server that stops answering', () => {
  it('fails the call with StoreConnectionError after replyTimeoutMs, replaces the connection and carries on', async () => {
    const server = await startRedisServer();
    cleanup.push(() => server.stop());
    const store = new RedisStore({ url: server.url }, { prefix: 'pause', logger: 'silent', replyTimeoutMs: 300 });
    cleanup.unshift(() => store.close());
    const other = adminClient(server.url);
    cleanup.unshift(async () => other.disconnect());
    const ran: number[] = [];
    const t = defineJob<number>({ name: 'pause-job', run: (i) => void ran.push(i) });
    await store.enqueue(t, 1);
    await other.client('PAUSE', 1500, 'ALL');
    const started = Date.now();
    const err = await store.count().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreConnectionError);
    expect(Date.now() - started).toBeLessThan(1400);
    await eventually(async () => (await store.count().catch(() => -1)) === 1, 'the store answers again once the pause ends', 10_000);
    void worker(store, [t]).start();
    await eventually(() => ran.length === 1, 'the queued job ran', 10_000);
    await store.enqueue(t, 2);
    await eventually(() => ran.length === 2, 'a new job woke the worker', 10_000);
  });
});

describe('start-up checks', () => {
  it('warns when maxmemory-policy is not noeviction', async () => {
    const server = await startRedisServer(['--maxmemory-policy', 'allkeys-lru']);
    cleanup.push(() => server.stop());
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, error() {}, warn: (_o, msg) => void warnings.push(msg ?? '') };
    const store = new RedisStore({ url: server.url }, { prefix: 'policy', logger });
    cleanup.unshift(() => store.close());
    await eventually(() => warnings.length > 0, 'a warning', 5000);
    expect(warnings[0]).toMatch(/maxmemory-policy.*allkeys-lru/);
    const quiet: string[] = [];
    const ok = new RedisStore({ url: REDIS_URL }, { prefix: `${FILE_PREFIX}-quiet`, logger: { ...logger, warn: (_o, m) => void quiet.push(m ?? '') } });
    await ok.count();
    await new Promise((r) => setTimeout(r, 100));
    await ok.close();
    expect(quiet).toEqual([]);
  });
});
