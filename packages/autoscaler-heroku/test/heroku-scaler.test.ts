import { createRequire } from 'node:module';
import { InvalidArgumentError, type QueueStats } from '@jqjobs/core';
import { Autoscaler, ScalerFatalError, ScalerUnavailableError, type DecisionRecord } from '@jqjobs/autoscaler';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type HerokuClientLike, HerokuScaler } from '../src/index.ts';
import { FakeHeroku } from './fake-heroku.ts';

const Heroku = createRequire(import.meta.url)('heroku-client') as new (options: { host: string; token: string }) => HerokuClientLike;

function fakeClock(start = Date.UTC(2025, 0, 1)) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** Just what the Autoscaler reads, with scripted queue numbers. */
function fakeStore(pending: Record<string, number>) {
  return {
    pending,
    async stats(): Promise<QueueStats[]> {
      return Object.entries(this.pending).map(([queueName, n]) => ({
        queueName,
        counts: { unqueued: 0, queued: n, running: 0, wait_async: 0, completed: 0, failed: 0 },
        dueCount: n,
        oldestQueuedAgeMs: n > 0 ? 1_000 : null,
      }));
    },
    async detectHungJobs() {
      return 0;
    },
  };
}

let fake: FakeHeroku;
let clock: ReturnType<typeof fakeClock>;
let client: HerokuClientLike;

beforeEach(async () => {
  fake = await new FakeHeroku('my-app', { web: 2, email: 1, video: 0 }).start();
  clock = fakeClock();
  client = new Heroku({ host: fake.url, token: 'test-token' });
});
afterEach(async () => {
  vi.useRealTimers();
  await fake.close();
});

/** Waits (on the event loop, not on timers) until `cond` holds. */
async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (await cond()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not reached');
}

function scaler(extra: Partial<ConstructorParameters<typeof HerokuScaler>[0]> = {}) {
  return new HerokuScaler({ app: 'my-app', client, clock, requestTimeoutSeconds: 5, ...extra } as ConstructorParameters<typeof HerokuScaler>[0]);
}

describe('HerokuScaler against a local Platform API', () => {
  it('reads the formation once per tick and writes every change in one PATCH', async () => {
    const s = scaler();
    await s.prepareTick();
    expect(await s.countCurrentWorkersForQueue('email')).toBe(1);
    expect(await s.countCurrentWorkersForQueue('video')).toBe(0);
    expect(fake.count('GET')).toBe(1);
    const results = await s.setCurrentWorkersForQueues([
      { queue: 'email', count: 4 },
      { queue: 'video', count: 2 },
    ]);
    expect(results).toEqual([
      { queue: 'email', ok: true, count: 4, changed: true },
      { queue: 'video', ok: true, count: 2, changed: true },
    ]);
    expect(fake.requests.filter((r) => r.method === 'PATCH')).toEqual([
      expect.objectContaining({ path: '/apps/my-app/formation', body: { updates: [{ type: 'email', quantity: 4 }, { type: 'video', quantity: 2 }] } }),
    ]);
    expect(fake.requests[0]?.authorization).toBe(`Basic ${Buffer.from(':test-token').toString('base64')}`);
    expect(fake.requests[0]?.accept).toBe('application/vnd.heroku+json; version=3');
    expect(fake.formation.get('email')).toBe(4);
    // The PATCH answer is the new formation: no second read is needed.
    expect(await s.countCurrentWorkersForQueue('email')).toBe(4);
    expect(fake.count('GET')).toBe(1);
  });

  it('maps queues to process types and skips writes that change nothing', async () => {
    const s = scaler({ processTypes: { 'mail.high': 'email' } });
    await s.prepareTick();
    expect(await s.countCurrentWorkersForQueue('mail.high')).toBe(1);
    expect(await s.setCurrentWorkersForQueue(1, 'mail.high')).toEqual({ count: 1, changed: false, note: 'already at that quantity' });
    expect(fake.count('PATCH')).toBe(0);
    expect(s.handlesQueue('mail.high')).toBe(true);
    expect(s.handlesQueue('other.queue')).toBe(false);
  });

  it('429: unknown count, the budget then holds calls back until Heroku refills it', async () => {
    const s = scaler({ rateLimitReserve: 100 });
    fake.failNext('GET', 429, { id: 'rate_limit', message: 'Your account reached the API rate limit' }, { 'ratelimit-remaining': '0' });
    await s.prepareTick();
    const err = await s.countCurrentWorkersForQueue('email').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScalerUnavailableError);
    expect(err).toMatchObject({ status: 429, retryable: true, providerCode: 'rate_limit' });
    clock.advance(10_000);
    await s.prepareTick();
    await expect(s.countCurrentWorkersForQueue('email')).rejects.toMatchObject({ providerCode: 'rate_limit_budget' });
    expect(fake.count('GET')).toBe(1);
    // 75 tokens a minute: 101 tokens (reserve + 1) take about 81 s.
    clock.advance(71_000);
    await s.prepareTick();
    expect(await s.countCurrentWorkersForQueue('email')).toBe(1);
    expect(fake.count('GET')).toBe(2);
  });

  it('stays under the hourly budget using RateLimit-Remaining', async () => {
    const s = scaler({ rateLimitReserve: 500 });
    fake.rateLimitRemaining = 501;
    await s.prepareTick(); // the answer says 501 left
    fake.rateLimitRemaining = 500;
    expect(await s.setCurrentWorkersForQueue(3, 'email')).toMatchObject({ changed: true }); // 501 → 500: allowed
    const refused = await s.setCurrentWorkersForQueues([{ queue: 'email', count: 5 }]); // 500 → 499: below the reserve
    expect(refused).toEqual([{ queue: 'email', ok: false, error: expect.objectContaining({ providerCode: 'rate_limit_budget', retryable: true }) }]);
    expect(fake.count('PATCH')).toBe(1);
    clock.advance(1_000); // 1.25 tokens refilled
    expect(await s.setCurrentWorkersForQueue(5, 'email')).toMatchObject({ changed: true });
    expect(fake.count('PATCH')).toBe(2);
  });

  it('503: the count is unknown, never 0', async () => {
    const s = scaler();
    fake.failNext('GET', 503, { id: 'unavailable', message: 'Service Unavailable' });
    await s.prepareTick();
    const err = await s.countCurrentWorkersForQueue('email').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScalerUnavailableError);
    expect(err).toMatchObject({ status: 503 });
    // The same failure answers every queue of the tick: one call, not one per queue.
    await expect(s.countCurrentWorkersForQueue('video')).rejects.toBeInstanceOf(ScalerUnavailableError);
    expect(fake.count('GET')).toBe(1);
  });

  it('503 on a write: reported, not retried in the background', async () => {
    const s = scaler();
    fake.failNext('PATCH', 503);
    const [r] = await s.setCurrentWorkersForQueues([{ queue: 'email', count: 3 }]);
    expect(r).toMatchObject({ ok: false, error: expect.objectContaining({ status: 503, retryable: true }) });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(fake.count('PATCH')).toBe(1);
    expect(fake.formation.get('email')).toBe(1);
  });

  it('401, 403 and 404 are fatal', async () => {
    for (const status of [401, 403, 404]) {
      const s = scaler();
      fake.failNext('GET', status, { id: status === 401 ? 'unauthorized' : 'forbidden', message: 'Invalid credentials provided.' });
      await s.prepareTick();
      const err = await s.countCurrentWorkersForQueue('email').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ScalerFatalError);
      expect(err).toMatchObject({ status, retryable: false, code: 'JQ_SCALER_FATAL' });
    }
    const missing = new HerokuScaler({ app: 'no-such-app', client, clock });
    await missing.prepareTick();
    await expect(missing.countCurrentWorkersForQueue('email')).rejects.toMatchObject({ status: 404, providerCode: 'not_found' });
  });

  it('a queue whose process type is not in the formation is fatal', async () => {
    const s = scaler();
    await s.prepareTick();
    await expect(s.countCurrentWorkersForQueue('sms')).rejects.toMatchObject({ name: 'ScalerFatalError', providerCode: 'process_type_missing' });
  });

  it('at most one write in flight per process type, and no re-send after a timeout', async () => {
    // Only our timeout timer is faked; the HTTP traffic is real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const s = scaler({ requestTimeoutSeconds: 30 });
    const release = fake.holdNext('PATCH');
    const pending = s.setCurrentWorkersForQueues([{ queue: 'email', count: 5 }]);
    await until(() => fake.count('PATCH') === 1);
    vi.advanceTimersByTime(30_000);
    expect((await pending)[0]).toMatchObject({ ok: false, error: expect.objectContaining({ providerCode: 'timeout' }) });
    const second = await s.setCurrentWorkersForQueues([
      { queue: 'email', count: 6 },
      { queue: 'video', count: 1 },
    ]);
    expect(second).toEqual([
      { queue: 'email', ok: false, error: expect.objectContaining({ providerCode: 'write_in_flight' }) },
      { queue: 'video', ok: true, count: 1, changed: true },
    ]);
    expect(fake.requests.filter((r) => r.method === 'PATCH').map((r) => r.body)).toEqual([
      { updates: [{ type: 'email', quantity: 5 }] },
      { updates: [{ type: 'video', quantity: 1 }] },
    ]);
    release();
    await until(() => fake.formation.get('email') === 5);
    await until(async () => (await s.setCurrentWorkersForQueues([{ queue: 'email', count: 6 }]))[0]?.ok === true);
    expect(fake.count('PATCH')).toBe(3);
    expect(fake.formation.get('email')).toBe(6);
  });

  it('a read that is still unanswered is not repeated', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const s = scaler({ requestTimeoutSeconds: 30 });
    const release = fake.holdNext('GET');
    const tick = s.prepareTick();
    await until(() => fake.count('GET') === 1);
    vi.advanceTimersByTime(30_000);
    await tick;
    await expect(s.countCurrentWorkersForQueue('email')).rejects.toMatchObject({ providerCode: 'timeout' });
    clock.advance(5_000);
    await s.prepareTick();
    await expect(s.countCurrentWorkersForQueue('email')).rejects.toMatchObject({ providerCode: 'read_in_flight' });
    expect(fake.count('GET')).toBe(1);
    release();
    await until(async () => {
      clock.advance(5_000);
      await s.prepareTick();
      return (await s.countCurrentWorkersForQueue('email').catch(() => null)) === 1;
    });
    expect(fake.count('GET')).toBe(2);
  });

  it('rejects bad options and bad counts, sending nothing', async () => {
    expect(() => new HerokuScaler({ app: '', client })).toThrow(InvalidArgumentError);
    expect(() => new HerokuScaler({ app: 'a/b', client })).toThrow(/app must be/);
    expect(() => new HerokuScaler({ app: 'x', client, token: 't' } as never)).toThrow(/exactly one of token and client/);
    expect(() => new HerokuScaler({ app: 'x' } as never)).toThrow(/exactly one/);
    expect(() => new HerokuScaler({ app: 'x', client: {} as HerokuClientLike })).toThrow(/heroku-client instance/);
    expect(() => new HerokuScaler({ app: 'x', client, processTypes: { a: 'bad type' } })).toThrow(/process type/);
    expect(() => new HerokuScaler({ app: 'x', client, processTypes: { a: 'worker', b: 'worker' } })).toThrow(/both map/);
    expect(() => new HerokuScaler({ app: 'x', client, rateLimitReserve: -1 })).toThrow(/rateLimitReserve/);
    expect(() => new HerokuScaler({ app: 'x', client, minSecondsToProcessDownScale: -1 })).toThrow(InvalidArgumentError);
    const s = scaler();
    await expect(s.setCurrentWorkersForQueue(-1, 'email')).rejects.toThrow(InvalidArgumentError);
    await expect(s.setCurrentWorkersForQueue(1.5, 'email')).rejects.toThrow(/integer ≥ 0/);
    await expect(s.setCurrentWorkersForQueues([{ queue: 'email', count: 2 }, { queue: 'video', count: -2 }])).rejects.toThrow(InvalidArgumentError);
    await expect(s.countCurrentWorkersForQueue('has space')).rejects.toThrow(/processTypes/);
    expect(fake.requests).toEqual([]);
  });

  it('builds its own heroku-client from a token', () => {
    const s = new HerokuScaler({ app: 'my-app', token: 'abc' });
    expect(s.minSecondsToProcessDownScale()).toBe(15);
  });
});

describe('HerokuScaler under the Autoscaler', () => {
  function records(list: DecisionRecord[]) {
    return list.map((r) => [r.queue, r.reason, r.outcome]);
  }

  it('one read and one batched write per tick', async () => {
    const store = fakeStore({ email: 3, video: 2 });
    const a = new Autoscaler(store, scaler(), { queues: { email: { maxConcurrency: 10 }, video: { maxConcurrency: 10 } }, clock, lease: null, logger: 'silent' });
    expect(records(await a.scaleAllQueues())).toEqual([
      ['email', 'scale-up', 'applied'],
      ['video', 'scale-up', 'applied'],
    ]);
    expect([fake.count('GET'), fake.count('PATCH')]).toEqual([1, 1]);
    expect(Object.fromEntries(fake.formation)).toEqual({ web: 2, email: 3, video: 2 });
  });

  it('a provider answering 503 never causes a write that lowers capacity', async () => {
    fake.formation.set('email', 10);
    const store = fakeStore({ email: 3 });
    const a = new Autoscaler(store, scaler(), { queues: { email: { maxConcurrency: 50, scaleDownMinJump: 1 } }, clock, lease: null, logger: 'silent' });
    for (let i = 0; i < 3; i++) {
      fake.failNext('GET', 503);
      const [r] = await a.scaleAllQueues();
      expect(r).toMatchObject({ reason: 'unknown-workers', action: 'none', from: null });
      store.pending.email = [0, 12, 3][i]!; // whatever the queue says
      clock.advance(5_000);
    }
    expect(fake.count('PATCH')).toBe(0);
    expect(fake.formation.get('email')).toBe(10);
    // Once Heroku answers again, the decision is made on the real count (10 → 3 with min jump 1).
    clock.advance(20_000);
    expect((await a.scaleAllQueues())[0]).toMatchObject({ from: 10, to: 3, outcome: 'applied' });
  });

  it('a 401 disables the queue loudly; 429 and 503 on writes are retried on a later tick', async () => {
    const store = fakeStore({ email: 3, video: 2 });
    const errors: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (_: unknown, msg?: string) => void errors.push(msg ?? '') };
    // Reserve 0: after the 429 the budget lets the next call through once a token has refilled (0.8 s).
    const a = new Autoscaler(store, scaler({ rateLimitReserve: 0 }), { queues: { email: { maxConcurrency: 10 }, video: { maxConcurrency: 10 } }, clock, lease: null, logger });
    fake.failNext('PATCH', 429);
    expect(records(await a.scaleAllQueues())).toEqual([
      ['email', 'scale-up', 'failed'],
      ['video', 'scale-up', 'failed'],
    ]);
    clock.advance(5_000);
    fake.failNext('PATCH', 503);
    expect(records(await a.scaleAllQueues()).map((r) => r[2])).toEqual(['failed', 'failed']);
    clock.advance(5_000);
    expect(records(await a.scaleAllQueues()).map((r) => r[2])).toEqual(['applied', 'applied']);
    clock.advance(5_000);
    store.pending.email = 6;
    fake.failNext('GET', 401, { id: 'unauthorized', message: 'Invalid credentials provided.' });
    expect(records(await a.scaleAllQueues())).toEqual([
      ['email', 'disabled', 'skipped'],
      ['video', 'disabled', 'skipped'],
    ]);
    expect(errors.filter((m) => m.includes('DISABLED'))).toHaveLength(2);
    expect(fake.formation.get('email')).toBe(3);
  });
});
