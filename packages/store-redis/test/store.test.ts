import { defineJob, InvalidArgumentError, InvalidJobOptionsError, JobNotFoundError, JQJobsError, type JobRecord, StoreClosedError, StoreConnectionError, Worker } from '@jqjobs/core';
import { req, TestClock } from '@jqjobs/store-test-suite';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PayloadTooLargeError, RedisStore, type RedisStoreOptions } from '../src/index.ts';
import { adminClient, dropPrefix, REDIS_URL, requireRedis } from './helpers.ts';

const FILE_PREFIX = `jqtest-store-${process.pid}`;
const admin = adminClient();
const stores: RedisStore[] = [];
let n = 0;

function makeStore(options: RedisStoreOptions = {}): RedisStore {
  const store = new RedisStore({ url: REDIS_URL }, { prefix: `${FILE_PREFIX}-${++n}`, logger: 'silent', ...options });
  stores.push(store);
  return store;
}

beforeAll(() => requireRedis());
afterEach(async () => {
  for (const s of stores.splice(0)) {
    await s.close();
    await dropPrefix(admin, s.prefix);
  }
});
afterAll(() => {
  admin.disconnect();
});

const t = defineJob<unknown>({ name: 'redis-store-test', run: () => {} });

async function drain(store: RedisStore, queues: string[] | null = null): Promise<unknown[]> {
  const out: unknown[] = [];
  for (;;) {
    const [c] = await store.claim(req(1, queues));
    if (!c) return out;
    out.push(c.job.payload);
  }
}

describe('order', () => {
  it('merges out-of-order arrivals (past startAt, promotions) with appended jobs by run time, then id', async () => {
    const clock = new TestClock();
    clock.freeze(1_700_000_000_000);
    const store = makeStore({ clock });
    const base = clock.now();
    await store.enqueue(t, 'a@0');
    await store.enqueue(t, 'delayed@+100', { startAt: base + 100 });
    await store.enqueue(t, 'delayed2@+100', { startAt: base + 100 });
    clock.advance(50);
    await store.enqueue(t, 'b@50');
    await store.enqueue(t, 'past@-10', { startAt: base - 10 });
    clock.advance(100);
    await store.enqueue(t, 'c@150');
    await store.enqueue(t, 'same@150-first');
    // Equal run times are taken in enqueue order, wherever the jobs are kept.
    await store.enqueue(t, 'past@150', { startAt: base + 150 });
    expect(await drain(store)).toEqual(['past@-10', 'a@0', 'b@50', 'delayed@+100', 'delayed2@+100', 'c@150', 'same@150-first', 'past@150']);
  });

  it('keeps order when the clock goes backwards between enqueues', async () => {
    const clock = new TestClock();
    clock.freeze(1_700_000_000_000);
    const store = makeStore({ clock });
    await store.enqueue(t, 'later');
    clock.advance(-1000);
    await store.enqueue(t, 'earlier');
    clock.advance(2000);
    expect(await drain(store)).toEqual(['earlier', 'later']);
  });

  it('claims several at once across priorities, lanes and queues in the global order', async () => {
    const clock = new TestClock();
    clock.freeze(1_700_000_000_000);
    const store = makeStore({ clock });
    const base = clock.now();
    await store.enqueue(t, 'x-p1', { queueName: 'x', priority: 1 });
    await store.enqueue(t, 'y-p1-old', { queueName: 'y', priority: 1, startAt: base - 500 });
    await store.enqueue(t, 'y-p0', { queueName: 'y' });
    await store.enqueue(t, 'x-p2', { queueName: 'x', priority: 2 });
    await store.enqueue(t, 'z-p1', { queueName: 'z', priority: 1 });
    await store.enqueue(t, 'x-p1-b', { queueName: 'x', priority: 1 });
    const got = await store.claim(req(10, ['x', 'y']));
    expect(got.map((c) => c.job.payload)).toEqual(['x-p2', 'y-p1-old', 'x-p1', 'x-p1-b', 'y-p0']);
    expect((await store.claim(req(10, null))).map((c) => c.job.payload)).toEqual(['z-p1']);
  });

  it('promotes many delayed jobs that fall due together, in order', async () => {
    const clock = new TestClock();
    clock.freeze(1_700_000_000_000);
    const store = makeStore({ clock });
    const at = clock.now() + 1000;
    await store.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ type: t, payload: i, options: { startAt: at + (i % 3), priority: i % 2 } })));
    expect(await store.claim(req(5))).toEqual([]);
    clock.advance(2000);
    const order = await drain(store);
    const expected = Array.from({ length: 300 }, (_, i) => i).sort((a, b) => b % 2 - a % 2 || (a % 3) - (b % 3) || a - b);
    expect(order).toEqual(expected);
  });

  it('a released job keeps its place; a retried one goes to the back', async () => {
    const clock = new TestClock();
    clock.freeze(1_700_000_000_000);
    const store = makeStore({ clock });
    for (const p of ['a', 'b', 'c']) await store.enqueue(t, p, { maxAttempts: 2 });
    const [a] = await store.claim(req(1));
    const [b] = await store.claim(req(1));
    clock.advance(1);
    await store.settle(b!.claim, { status: 'queued', error: 'again', delayMs: 0, maxAttempts: 2 });
    await store.release([a!.claim]);
    expect(await drain(store)).toEqual(['a', 'c', 'b']);
  });
});

describe('calls made together', () => {
  it('enqueues in flight share a script call without mixing up results; each call stays all or nothing', async () => {
    const store = makeStore({ maxPayloadBytes: 1000 });
    const calls = [
      store.enqueue(t, 'a', { coalesceId: 'same' }),
      store.enqueueMany([
        { type: t, payload: 'b1' },
        { type: t, payload: 'b2', options: { coalesceId: 'same' } },
      ]),
      store.enqueue(t, 'x'.repeat(2000)),
      store.enqueueMany([{ type: t, payload: 'c1' }, { type: t, payload: { bad: NaN } }]),
      store.enqueue(t, 'd', { queueName: 'other' }),
    ];
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    const [a, b, , , d] = results.map((r) => (r.status === 'fulfilled' ? r.value : null));
    expect(a).toMatchObject({ payload: 'a', coalesced: false });
    expect(b).toMatchObject([{ payload: 'b1', coalesced: false }, { id: (a as { id: string }).id, payload: 'a', coalesced: true }]);
    expect(d).toMatchObject({ payload: 'd', queueName: 'other' });
    expect(await store.count()).toBe(3);
  });

  it('takes large claims and large batches of settles', async () => {
    const store = makeStore();
    for (let i = 0; i < 3000; i += 1000) await store.enqueueMany(Array.from({ length: 1000 }, (_, k) => ({ type: t, payload: i + k })));
    const claims = await store.claim(req(2500));
    expect(claims.map((c) => c.job.payload)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    const settled = await Promise.all(claims.map((c) => store.settle(c.claim, { status: 'completed', delete: true }, req(1))));
    expect(settled.every((r) => r.applied)).toBe(true);
    expect(settled.flatMap((r) => r.next.map((c) => c.job.payload)).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 500 }, (_, i) => 2500 + i));
    expect(await store.count()).toBe(500);
  });

  it('claims made together with different requests each get their own jobs', async () => {
    const store = makeStore();
    await store.enqueueMany(['x1', 'x2', 'y1'].map((p) => ({ type: t, payload: p, options: { queueName: p[0] } })));
    const [x, y, all] = await Promise.all([store.claim(req(5, ['x'])), store.claim(req(5, ['y'])), store.claim(req(5, null))]);
    expect(x.map((c) => c.job.payload)).toEqual(['x1', 'x2']);
    expect(y.map((c) => c.job.payload)).toEqual(['y1']);
    expect(all).toEqual([]);
  });
});

describe('reads and admin', () => {
  it('lists hundreds of jobs across record hashes, with filters and paging', async () => {
    const store = makeStore();
    const jobs = await store.enqueueMany(Array.from({ length: 450 }, (_, i) => ({ type: t, payload: i, options: { queueName: i % 3 === 0 ? 'three' : 'other', deleteOnComplete: false } })));
    // Finish a few, fail a few, park a few: they must still list in id order.
    const claims = await store.claim(req(30));
    for (const [i, c] of claims.entries()) {
      if (i % 3 === 0) await store.settle(c.claim, { status: 'completed', delete: false });
      else if (i % 3 === 1) await store.settle(c.claim, { status: 'failed', error: 'no' });
      else await store.settle(c.claim, { status: 'wait_async' });
    }
    const all: JobRecord[] = [];
    for (let offset = 0; ; offset += 37) {
      const page = await store.jobs({ limit: 37, offset });
      if (page.length === 0) break;
      all.push(...page);
    }
    expect(all.map((j) => j.id)).toEqual(jobs.map((j) => j.id));
    expect(await store.count()).toBe(450);
    expect(await store.count({ status: 'queued' })).toBe(420);
    expect(await store.count({ status: ['completed', 'failed', 'wait_async'] })).toBe(30);
    expect(await store.count({ queueName: 'three' })).toBe(150);
    const failed = await store.jobs({ status: 'failed', limit: 100 });
    expect(failed).toHaveLength(10);
    expect(failed.every((j) => j.status === 'failed')).toBe(true);
    expect(failed.map((j) => Number(j.id))).toEqual([...failed.map((j) => Number(j.id))].sort((a, b) => a - b));
    expect(await store.jobs({ status: ['failed', 'completed'], limit: 5, offset: 15 })).toHaveLength(5);
    const three = await store.jobs({ queueName: 'three', status: 'queued', limit: 1000 });
    expect(three.every((j) => j.queueName === 'three' && j.status === 'queued')).toBe(true);
    expect(await store.jobs({ queueName: 'nope' })).toEqual([]);
  });

  it('delete and restart take a queued job out of whichever structure holds it', async () => {
    const clock = new TestClock();
    clock.freeze(1_700_000_000_000);
    const store = makeStore({ clock });
    const inList = await store.enqueue(t, 'list');
    const straggler = await store.enqueue(t, 'straggler', { startAt: clock.now() - 100 });
    const delayed = await store.enqueue(t, 'delayed', { startAt: clock.now() + 100 });
    await store.enqueue(t, 'keep');
    await store.delete(inList.id);
    await store.delete(straggler.id);
    await store.delete(delayed.id);
    clock.advance(1000);
    expect(await drain(store)).toEqual(['keep']);
    // Restart from each place, and from running: each comes back exactly once.
    const a = await store.enqueue(t, 'a');
    const b = await store.enqueue(t, 'b', { startAt: clock.now() - 100 });
    const c = await store.enqueue(t, 'c', { startAt: clock.now() + 100 });
    clock.advance(1);
    for (const j of [a, b, c]) await store.restart(j.id);
    const [running] = await store.claim(req(1));
    await store.restart(running!.job.id);
    // The restarted running job is queued again: all three come out once more.
    expect((await drain(store)).sort()).toEqual(['a', 'b', 'c']);
    expect(await store.count({ status: 'queued' })).toBe(0);
  });

  it('stats counts every status per queue', async () => {
    const store = makeStore();
    await store.enqueueMany(['q1', 'q1', 'q2'].map((q) => ({ type: t, payload: q, options: { queueName: q, deleteOnComplete: false } })));
    const [c] = await store.claim(req(1, ['q2']));
    await store.settle(c!.claim, { status: 'failed', error: 'x' });
    const [r] = await store.claim(req(1, ['q1']));
    const stats = await store.stats();
    expect(stats.map((s) => s.queueName)).toEqual(['q1', 'q2']);
    expect(stats[0]!.counts).toMatchObject({ queued: 1, running: 1, failed: 0 });
    expect(stats[1]!.counts).toMatchObject({ queued: 0, failed: 1 });
    expect(stats[1]!.oldestQueuedAgeMs).toBeNull();
    await store.settle(r!.claim, { status: 'completed', delete: false });
    expect((await store.stats())[0]!.counts).toMatchObject({ queued: 1, running: 0, completed: 1 });
  });

  it('takes every timestamp from its clock', async () => {
    const clock = new TestClock();
    clock.freeze(1_500_000_000_000);
    const store = makeStore({ clock });
    const j = await store.enqueue(t, {}, { deleteOnComplete: false });
    expect(j.createdAt.getTime()).toBe(1_500_000_000_000);
    clock.advance(10);
    const [c] = await store.claim(req(1));
    expect(c!.job.startedAt!.getTime()).toBe(1_500_000_000_010);
    clock.advance(10);
    const r = await store.settle(c!.claim, { status: 'completed', delete: false });
    expect(r.job!.endedAt!.getTime()).toBe(1_500_000_000_020);
    expect((await store.get(j.id)).endedAt!.getTime()).toBe(1_500_000_000_020);
  });

  it('a lock expires by the store clock, not the server clock', async () => {
    const clock = new TestClock();
    clock.freeze(1_700_000_000_000);
    const store = makeStore({ clock, lockTtlMs: 5000 });
    const j = await store.enqueue(t, {});
    let release!: () => void;
    const held = store.withLock(j.id, () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 20));
    await expect(store.withLock(j.id, () => 1)).rejects.toMatchObject({ code: 'JQ_JOB_LOCKED' });
    clock.advance(5001);
    expect(await store.withLock(j.id, () => 'taken over')).toBe('taken over');
    release();
    await held;
  });
});

describe('bad input', () => {
  it('queue names, type names, coalesce ids and payloads with braces, colons, quotes and unicode work', async () => {
    const store = makeStore();
    const names = ['a:b', '{tag}', '}{', 'q "quoted" \'single\'', 'ünï✓ 🚀', 'x:1:2', '*', ' spaced ', 'l:0:x', '\\back'];
    for (const q of names) {
      const type = `type ${q}`;
      const job = await store.enqueue(type, { q, s: '"\'{}:\u2028\u0000' }, { queueName: q, coalesceId: `co ${q}`, deleteOnComplete: false });
      expect((await store.enqueue(type, { other: true }, { queueName: q, coalesceId: `co ${q}` })).id).toBe(job.id);
      expect(await store.getByCoalesceId(`co ${q}`)).toMatchObject({ id: job.id, queueName: q, type });
    }
    for (const q of names) {
      const [c] = await store.claim(req(5, [q]));
      expect(c?.job).toMatchObject({ queueName: q, type: `type ${q}`, payload: { q, s: '"\'{}:\u2028\u0000' } });
      expect((await store.claim(req(5, [q])))).toEqual([]);
      await store.settle(c!.claim, { status: 'completed', delete: false });
      expect(await store.count({ queueName: q, status: 'completed' })).toBe(1);
    }
    expect((await store.stats()).map((s) => s.queueName).sort()).toEqual([...names].sort());
  });

  it('a batch carries awkward names, ids, big payloads and in-batch coalescing exactly (its fields travel packed)', async () => {
    const store = makeStore();
    const names = ['a:b', '{tag}', 'q "quoted"', 'ünï✓ 🚀', ' spaced ', '\\back', 'x'.repeat(31), 'y'.repeat(32), 'ü'.repeat(140)];
    // Payload sizes on each side of msgpack's string length encodings (31/32, 255/256, 65535/65536 bytes).
    const sizes = [0, 20, 40, 250, 300, 70_000];
    const items = names.flatMap((q) =>
      sizes.map((size, k) => ({ type: `type ${q}`, payload: { q, pad: 'é'.repeat(size) }, options: { queueName: q, priority: k - 2, coalesceId: k === 5 ? `co ${q}` : null } })),
    );
    // The same coalesce id twice in one batch: the second joins the first.
    items.push({ type: 'type a:b', payload: { q: 'dup', pad: '' }, options: { queueName: 'a:b', priority: 0, coalesceId: 'co a:b' } });
    const jobs = await store.enqueueMany(items);
    expect(jobs).toHaveLength(items.length);
    expect(jobs.at(-1)!.coalesced).toBe(true);
    expect(jobs.at(-1)!.id).toBe(jobs[5]!.id);
    for (let i = 0; i < items.length - 1; i++) {
      const got = await store.get(jobs[i]!.id);
      expect(got).toMatchObject({ type: items[i]!.type, queueName: items[i]!.options.queueName, priority: items[i]!.options.priority, coalesceId: items[i]!.options.coalesceId });
      expect(got.payload).toEqual(items[i]!.payload);
    }
    for (const q of names) expect(await store.count({ queueName: q })).toBe(sizes.length);
  });

  it('refuses a payload over maxPayloadBytes with a clear error and stores nothing', async () => {
    const store = makeStore({ maxPayloadBytes: 100 });
    const ok = 'x'.repeat(98); // JSON adds two quotes: exactly 100 bytes.
    await store.enqueue(t, ok);
    const err = await store.enqueue(t, `${ok}x`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toBeInstanceOf(JQJobsError);
    expect(err).toMatchObject({ bytes: 101, limit: 100, code: 'JQ_PAYLOAD_TOO_LARGE' });
    expect((err as Error).message).toMatch(/101 bytes of JSON, over the store's limit of 100/);
    // Multi-byte characters count as bytes; a batch with one big item stores nothing.
    await expect(store.enqueueMany([{ type: t, payload: 1 }, { type: t, payload: 'é'.repeat(60) }])).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect(await store.count()).toBe(1);
  });

  it('has a 1 MiB default limit', async () => {
    const store = makeStore();
    await store.enqueue(t, 'y'.repeat(1024 * 1024 - 2));
    await expect(store.enqueue(t, 'y'.repeat(1024 * 1024 - 1))).rejects.toBeInstanceOf(PayloadTooLargeError);
  });

  it('answers JobNotFoundError for non-ids everywhere, without touching Redis', async () => {
    const store = makeStore();
    for (const id of ['0', '01', '-3', '1e3', ' 1', '1 ', '{1}', 'abc', '', '1234567890123456789']) {
      await expect(store.get(id)).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(store.restart(id)).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(store.delete(id)).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(store.settleWaitAsync(id, { status: 'failed', error: 'x' })).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(store.withLock(id, () => 1)).rejects.toBeInstanceOf(JobNotFoundError);
    }
  });

  it('rejects bad options and bad arguments with typed errors', async () => {
    expect(() => new RedisStore({ url: REDIS_URL }, { prefix: 'has{brace}' })).toThrow(InvalidArgumentError);
    expect(() => new RedisStore({ url: REDIS_URL }, { prefix: '' })).toThrow(InvalidArgumentError);
    expect(() => new RedisStore({ url: REDIS_URL }, { maxPayloadBytes: 0 })).toThrow(InvalidArgumentError);
    expect(() => new RedisStore({} as never)).toThrow(InvalidArgumentError);
    const store = makeStore();
    await expect(store.claim(req(0))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.claim({ ...req(1), queues: 'q' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.enqueue(t, {}, { priority: 1.5 })).rejects.toBeInstanceOf(InvalidJobOptionsError);
    await expect(store.jobs({ offset: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(store.extendLeases([], -1)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await store.count()).toBe(0);
  });
});

describe('connections', () => {
  it('never closes a client it was given; closing twice is fine; a closed store refuses work', async () => {
    const client = new Redis(REDIS_URL);
    const store = new RedisStore({ client }, { prefix: `${FILE_PREFIX}-client`, logger: 'silent' });
    try {
      await store.enqueue(t, 1);
      const w = new Worker(store, { jobs: [t], exitIfNoJobs: true, enableJitter: false, logger: 'silent' });
      await w.start();
      expect(w.jobsProcessed).toBe(1);
      await store.close();
      await store.close();
      expect(await client.ping()).toBe('PONG');
      await expect(store.enqueue(t, 2)).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.claim(req(1))).rejects.toBeInstanceOf(StoreClosedError);
    } finally {
      await dropPrefix(admin, `${FILE_PREFIX}-client`);
      client.disconnect();
    }
  });

  it('an unreachable server gives StoreConnectionError with the cause, not a hang', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1' }, { prefix: 'unreachable', logger: 'silent', checkEvictionPolicy: false });
    try {
      const err = await store.enqueue(t, 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreConnectionError);
      expect((err as Error).cause).toBeDefined();
      await expect(store.get('1')).rejects.toBeInstanceOf(StoreConnectionError);
    } finally {
      await store.close();
    }
  });

  it('leaves no per-job keys behind once jobs are done', async () => {
    const store = makeStore();
    await store.enqueueMany(Array.from({ length: 250 }, (_, i) => ({ type: t, payload: i, options: { queueName: `q${i % 3}`, maxRuntimeSeconds: 60, coalesceId: `c${i}` } })));
    const w = new Worker(store, { jobs: [t], concurrency: 5, exitIfNoJobs: true, enableJitter: false, logger: 'silent' });
    await w.start();
    expect(w.jobsProcessed).toBe(250);
    const keys = await admin.keys(`{${store.prefix}}:*`);
    const perJob = keys.filter((k) => /^:(j|r|mr|co|l|s|d|w|c|f|lk)(:|$)/.test(k.slice(store.prefix.length + 2)));
    expect(perJob).toEqual([]);
  });
});

describe('record encoding', () => {
  it('integers of every size come back exactly, in our decoder and in the Lua scripts', async () => {
    const { packRecord, unpack } = await import('../src/codec.ts');
    const ints = [0, 1, 127, 128, -1, -32, -33, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32 + 5, 1_764_490_000_123, 2 ** 53 - 1, -(2 ** 40), -(2 ** 53 - 1)];
    const packed = packRecord(ints);
    expect(unpack(packed)).toEqual(ints);
    // Redis's cmsgpack reads the same numbers (tostring keeps every digit of these integers).
    const fromLua = (await admin.eval(
      'local t = cmsgpack.unpack(ARGV[1]) local out = {} for i, v in ipairs(t) do out[i] = string.format("%.0f", v) end return out',
      0,
      packed,
    )) as string[];
    expect(fromLua.map(Number)).toEqual(ints);
  });
});
