import { InvalidArgumentError } from '@jqjobs/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Autoscaler,
  ChimeraScaler,
  InMemoryLease,
  InvalidAutoscalerConfigError,
  LEASE_QUEUE,
  NoopScaler,
  ScalerFatalError,
  ScalerUnavailableError,
  UnknownQueueError,
} from '../src/index.ts';
import { fakeClock, flakyStatsStore, memoryLogger, ScriptedScaler, storeWith } from './helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('Autoscaler: bad input is rejected and changes nothing', () => {
  const clock = fakeClock();
  const store = storeWith(clock);
  const cases: Array<[string, unknown, RegExp]> = [
    ['no queues', { queues: {} }, /queues.*names no queue/],
    ['queues not an object', { queues: [] }, /queues/],
    ['empty queue name', { queues: { '': { maxConcurrency: 1 } } }, /cannot be empty/],
    ['queue name with spaces', { queues: { ' email': { maxConcurrency: 1 } } }, /whitespace/],
    ['the reserved lease queue', { queues: { [LEASE_QUEUE]: { maxConcurrency: 1 } } }, /reserved/],
    ['negative maxConcurrency', { queues: { email: { maxConcurrency: -1 } } }, /queues\.email\.maxConcurrency.*integer ≥ 0/],
    ['missing maxConcurrency', { queues: { email: {} } }, /maxConcurrency.*required/],
    ['fractional scaleDownMinJump', { queues: { email: { maxConcurrency: 3, scaleDownMinJump: 1.5 } } }, /scaleDownMinJump/],
    ['unknown algorithm', { queues: { email: { maxConcurrency: 3, scalingAlgorithm: 'cubic' } } }, /scalingAlgorithm/],
    ['a typo in an option', { queues: { email: { maxConcurency: 3 } } }, /maxConcurency.*unknown option/],
    ['latencyTarget without a target', { queues: { email: { maxConcurrency: 3, scalingAlgorithm: 'latencyTarget', averageJobSeconds: 3 } } }, /latencyTargetSeconds.*required/],
    ['negative polling interval', { queues: { email: { maxConcurrency: 3 } }, pollingIntervalSeconds: -5 }, /pollingIntervalSeconds/],
    ['zero polling interval', { queues: { email: { maxConcurrency: 3 } }, pollingIntervalSeconds: 0 }, /pollingIntervalSeconds/],
    ['NaN hung-job interval', { queues: { email: { maxConcurrency: 3 } }, detectHungJobsEverySeconds: Number.NaN }, /detectHungJobsEverySeconds/],
    ['a bad lease', { queues: { email: { maxConcurrency: 3 } }, lease: {} }, /lease/],
  ];
  it.each(cases)('%s', (_name, options, pattern) => {
    const scaler = new ScriptedScaler();
    const err = (() => {
      try {
        new Autoscaler(store, scaler, options as never);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(InvalidAutoscalerConfigError);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(pattern);
    expect(scaler.sets).toEqual([]);
  });

  it('a queue the ChimeraScaler does not route is refused at construction', () => {
    const chimera = new ChimeraScaler({ email: new NoopScaler() });
    expect(() => new Autoscaler(store, chimera, { queues: { email: { maxConcurrency: 1 }, video: { maxConcurrency: 1 } } })).toThrow(UnknownQueueError);
  });

  it('a store without stats() or a scaler that is not Scalable is refused', () => {
    expect(() => new Autoscaler({} as never, new NoopScaler(), { queues: { q: { maxConcurrency: 1 } } })).toThrow(/stats\(\) and detectHungJobs\(\)/);
    expect(() => new Autoscaler(store, {} as never, { queues: { q: { maxConcurrency: 1 } } })).toThrow(/countCurrentWorkersForQueue/);
  });

  it('explain() of a queue it does not scale throws', () => {
    const a = new Autoscaler(store, new NoopScaler(), { queues: { q: { maxConcurrency: 1 } }, lease: null });
    expect(() => a.explain('other')).toThrow(UnknownQueueError);
    expect(() => a.explain('')).toThrow(InvalidArgumentError);
  });
});

describe('Autoscaler: a tick', () => {
  it('reads the store, decides, applies, and explains', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    await store.add('email', 5, 2);
    await store.add('video', 3);
    const scaler = new NoopScaler();
    const logger = memoryLogger();
    const a = new Autoscaler(store, scaler, {
      queues: { email: { scalingAlgorithm: 'linear', maxConcurrency: 10 }, video: { scalingAlgorithm: 'halfLinear', maxConcurrency: 10 }, idle: { maxConcurrency: 3 } },
      clock,
      logger,
      lease: null,
    });
    expect(a.explain('email')).toBeNull();
    const records = await a.scaleAllQueues();
    expect(records.map((r) => [r.queue, r.action, r.to, r.outcome])).toEqual([
      ['email', 'scale-up', 7, 'applied'],
      ['video', 'scale-up', 1, 'applied'],
      ['idle', 'none', null, 'none'],
    ]);
    expect(scaler.calls).toEqual([
      { queue: 'email', count: 7 },
      { queue: 'video', count: 1 },
    ]);
    expect(a.explain('email')).toMatchObject({
      reason: 'scale-up',
      applied: 7,
      inputs: { queued: 5, running: 2, pending: 7, current: 0, algorithm: 'linear', maxConcurrency: 10 },
      gates: { settling: false, settleMs: 5_000 },
    });
    expect(a.explain('idle')).toMatchObject({ reason: 'at-target', message: 'WONT scale idle: already at 0 workers (pending 0)' });
    expect(logger.lines.filter((l) => l.level === 'info').map((l) => l.msg)).toEqual([
      'WILL scale email from 0 to 7 (pending 7, linear)',
      'WILL scale video from 0 to 1 (pending 3, halfLinear)',
    ]);
    expect(logger.lines.find((l) => l.level === 'debug' && l.msg?.startsWith('WONT scale idle'))?.obj).toMatchObject({ queue: 'idle', reason: 'at-target' });
  });

  it('jobs scheduled for later do not make it scale up; once they fall due, they do', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    for (let i = 0; i < 6; i++) await store.enqueue('work', { i }, { queueName: 'later', startAt: new Date(clock.now() + 3_600_000) });
    const scaler = new NoopScaler();
    const a = new Autoscaler(store, scaler, { queues: { later: { scalingAlgorithm: 'linear', maxConcurrency: 10 } }, clock, lease: null, logger: 'silent' });
    expect((await a.scaleAllQueues())[0]).toMatchObject({ action: 'none', inputs: { queued: 0, pending: 0 } });
    expect(scaler.calls).toEqual([]);
    clock.advance(3_600_000);
    expect((await a.scaleAllQueues())[0]).toMatchObject({ action: 'scale-up', to: 6, inputs: { queued: 6 } });
    expect(scaler.calls).toEqual([{ queue: 'later', count: 6 }]);
  });

  it('saves the history, so a scale-down really settles (the original never saved it)', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    const scaler = new ScriptedScaler({ q: 40 });
    scaler.settleSeconds = 15;
    await store.add('q', 10);
    const a = new Autoscaler(store, scaler, { queues: { q: { maxConcurrency: 100 } }, clock, lease: null, logger: 'silent' });
    expect((await a.scaleAllQueues())[0]).toMatchObject({ action: 'scale-down', to: 10, outcome: 'applied' });
    expect(a.history('q').lastScaleDownAt).toBe(clock.now());

    await store.add('q', 30);
    clock.advance(14_000);
    expect((await a.scaleAllQueues())[0]).toMatchObject({ action: 'none', reason: 'settling' });
    clock.advance(1_000);
    expect((await a.scaleAllQueues())[0]).toMatchObject({ action: 'scale-up', to: 40 });
    expect(scaler.sets).toEqual([
      { queue: 'q', count: 10 },
      { queue: 'q', count: 40 },
    ]);
    expect(a.history('q').scaleEvents).toBe(2);
  });

  it('a failed store read is unknown: nothing is written and the provider is not even asked', async () => {
    const clock = fakeClock();
    const store = flakyStatsStore(clock);
    const scaler = new ScriptedScaler({ q: 30 });
    const count = vi.spyOn(scaler, 'countCurrentWorkersForQueue');
    const a = new Autoscaler(store, scaler, { queues: { q: { maxConcurrency: 50 } }, clock, lease: null, logger: 'silent' });
    store.state.failing = true;
    const [r] = await a.scaleAllQueues();
    expect(r).toMatchObject({ action: 'none', reason: 'unknown-stats', error: 'Error: connection refused' });
    expect(count).not.toHaveBeenCalled();
    expect(scaler.sets).toEqual([]);
    store.state.failing = false;
    expect((await a.scaleAllQueues())[0]).toMatchObject({ action: 'scale-down', to: 0 });
  });

  it('a failed provider read is unknown, never zero: nothing is written', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    await store.add('q', 3);
    const scaler = new ScriptedScaler({ q: 30 });
    scaler.countError = new ScalerUnavailableError('503 from provider', { status: 503 });
    const a = new Autoscaler(store, scaler, { queues: { q: { maxConcurrency: 50, scaleDownMinJump: 1 } }, clock, lease: null, logger: 'silent' });
    const [r] = await a.scaleAllQueues();
    expect(r).toMatchObject({ action: 'none', reason: 'unknown-workers', desired: 3, from: null, error: 'ScalerUnavailableError: 503 from provider' });
    expect(scaler.sets).toEqual([]);
  });

  it('a failing scaler for one queue does not stop the others', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    await store.add('a', 2);
    await store.add('b', 3);
    await store.add('c', 4);
    const broken = new ScriptedScaler();
    broken.setError = new ScalerUnavailableError('429 Too Many Requests', { status: 429 });
    const crashing = new ScriptedScaler();
    crashing.countError = new TypeError('driver bug');
    const ok = new NoopScaler();
    const logger = memoryLogger();
    const a = new Autoscaler(store, new ChimeraScaler({ a: broken, b: crashing, c: ok }), {
      queues: { a: { maxConcurrency: 9 }, b: { maxConcurrency: 9 }, c: { maxConcurrency: 9 } },
      clock,
      lease: null,
      logger,
    });
    const records = await a.scaleAllQueues();
    expect(records.map((r) => [r.queue, r.outcome, r.reason])).toEqual([
      ['a', 'failed', 'scale-up'],
      ['b', 'none', 'unknown-workers'],
      ['c', 'applied', 'scale-up'],
    ]);
    expect(ok.calls).toEqual([{ queue: 'c', count: 4 }]);
    expect(a.explain('a')?.error).toMatch(/429/);
    expect(logger.lines.some((l) => l.level === 'warn' && l.obj.queue === 'a')).toBe(true);
    expect(logger.lines.some((l) => l.level === 'error' && l.obj.queue === 'b')).toBe(true);
    // The failed write left no history: the next tick simply tries again.
    expect(a.history('a').scaleEvents).toBe(0);
    broken.setError = null;
    expect((await a.scaleAllQueues())[0]).toMatchObject({ queue: 'a', outcome: 'applied', applied: 2 });
  });

  it('a fatal driver error disables only that queue, loudly, until enableQueue()', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    await store.add('a', 2);
    await store.add('b', 2);
    const bad = new ScriptedScaler();
    bad.countError = new ScalerFatalError('401 Unauthorized', { status: 401 });
    const good = new NoopScaler();
    const logger = memoryLogger();
    const a = new Autoscaler(store, new ChimeraScaler({ a: bad, b: good }), { queues: { a: { maxConcurrency: 5 }, b: { maxConcurrency: 5 } }, clock, lease: null, logger });
    const disabled: string[] = [];
    a.on('queue:disabled', (q) => disabled.push(q));
    const first = await a.scaleAllQueues();
    expect(first.map((r) => [r.queue, r.reason])).toEqual([
      ['a', 'disabled'],
      ['b', 'scale-up'],
    ]);
    expect(disabled).toEqual(['a']);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([expect.stringMatching(/QUEUE a DISABLED/)]);
    const count = vi.spyOn(bad, 'countCurrentWorkersForQueue');
    await a.scaleAllQueues();
    expect(count).not.toHaveBeenCalled();
    expect(a.disabledQueues()).toEqual([{ queue: 'a', since: new Date(clock.now()), error: 'ScalerFatalError: 401 Unauthorized' }]);
    bad.countError = null;
    a.enableQueue('a');
    expect((await a.scaleAllQueues())[0]).toMatchObject({ queue: 'a', outcome: 'applied', applied: 2 });
  });

  it('uses the batched write when the scaler has one', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    await store.add('a', 2);
    await store.add('b', 3);
    const batches: unknown[] = [];
    const scaler = Object.assign(new ScriptedScaler(), {
      async setCurrentWorkersForQueues(updates: ReadonlyArray<{ queue: string; count: number }>) {
        batches.push(updates);
        return updates.map((u) => (u.queue === 'a' ? { queue: u.queue, ok: true as const, count: u.count, changed: true } : { queue: u.queue, ok: false as const, error: new Error('no') }));
      },
    });
    const a = new Autoscaler(store, scaler, { queues: { a: { maxConcurrency: 5 }, b: { maxConcurrency: 5 } }, clock, lease: null, logger: 'silent' });
    const records = await a.scaleAllQueues();
    expect(batches).toEqual([
      [
        { queue: 'a', count: 2 },
        { queue: 'b', count: 3 },
      ],
    ]);
    expect(records.map((r) => r.outcome)).toEqual(['applied', 'failed']);
  });

  it('runs the settle time of each queue’s own scaler', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    const slow = new ScriptedScaler({ slow: 30 });
    slow.settleSeconds = 60;
    const fast = new ScriptedScaler({ fast: 30 });
    fast.settleSeconds = 0;
    const a = new Autoscaler(store, new ChimeraScaler({ slow, fast }), {
      queues: { slow: { maxConcurrency: 50 }, fast: { maxConcurrency: 50 } },
      clock,
      lease: null,
      logger: 'silent',
    });
    await store.add('slow', 5);
    await store.add('fast', 5);
    await a.scaleAllQueues(); // both 30 → 5
    await store.add('slow', 20);
    await store.add('fast', 20);
    clock.advance(5_000);
    const [s, f] = await a.scaleAllQueues();
    expect(s).toMatchObject({ queue: 'slow', reason: 'settling', gates: { settleMs: 60_000 } });
    expect(f).toMatchObject({ queue: 'fast', action: 'scale-up', to: 25, gates: { settleMs: 5_000 } });
  });
});

describe('Autoscaler: the loop', () => {
  it('detects hung jobs on its own timer while the cloud API hangs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const store = storeWith({ now: () => Date.now() });
    const hungJob = await store.enqueue('work', {}, { queueName: 'q' });
    await store.claim({ workerId: 'dead', queues: ['q'], limit: 1, leaseMs: 1_000 });
    const scaler = new ScriptedScaler();
    let unhang!: () => void;
    scaler.hang = new Promise((r) => (unhang = r));
    const detect = vi.spyOn(store, 'detectHungJobs');
    const a = new Autoscaler(store, scaler, { queues: { q: { maxConcurrency: 5 } }, lease: null, logger: 'silent', detectHungJobsEverySeconds: 10 });
    const found: number[] = [];
    a.on('hung:detected', (n) => found.push(n));
    const running = a.run();
    await vi.advanceTimersByTimeAsync(35_000);
    expect(detect).toHaveBeenCalledTimes(3);
    expect(found).toEqual([1]);
    expect((await store.get(hungJob.id)).status).toBe('queued');
    unhang();
    scaler.hang = null;
    await a.stop();
    await running;
    const calls = detect.mock.calls.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(detect.mock.calls.length).toBe(calls);
  });

  it('ticks every pollingIntervalSeconds until stop()', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const store = storeWith({ now: () => Date.now() });
    const a = new Autoscaler(store, new NoopScaler(), { queues: { q: { maxConcurrency: 5 } }, lease: null, logger: 'silent', pollingIntervalSeconds: 5, detectHungJobsEverySeconds: 0 });
    let ticks = 0;
    a.on('tick', () => ticks++);
    const running = a.run();
    expect(a.run()).toBe(running);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(ticks).toBe(5); // at 0, 5, 10, 15, 20 s
    await a.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(ticks).toBe(5);
  });
});

describe('Autoscaler: one active autoscaler per store', () => {
  it('the default StoreLease keeps a second autoscaler on standby until the first stops', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    await store.add('q', 4);
    const s1 = new NoopScaler();
    const s2 = new NoopScaler();
    const opts = { queues: { q: { maxConcurrency: 9 } }, clock, logger: 'silent' as const };
    const a = new Autoscaler(store, s1, { ...opts, id: 'a' });
    const b = new Autoscaler(store, s2, { ...opts, id: 'b' });
    expect((await a.scaleAllQueues())[0]).toMatchObject({ outcome: 'applied' });
    expect((await b.scaleAllQueues())[0]).toMatchObject({ reason: 'standby', outcome: 'skipped' });
    expect(a.isActive).toBe(true);
    expect(b.isActive).toBe(false);
    expect(s2.calls).toEqual([]);

    // The sentinel is never due: no worker can claim it, and stats() does not call it waiting.
    expect(await store.claim({ workerId: 'w', queues: null, limit: 10, leaseMs: 1000 })).toHaveLength(4);
    const sentinelStats = (await store.stats()).find((s) => s.queueName === LEASE_QUEUE);
    expect(sentinelStats).toMatchObject({ oldestQueuedAgeMs: null });

    await a.stop();
    expect(a.isActive).toBe(false);
    expect((await b.scaleAllQueues())[0]).toMatchObject({ reason: 'scale-up', outcome: 'applied' });
    expect(b.isActive).toBe(true);
    expect(s2.calls).toEqual([{ queue: 'q', count: 4 }]);
    expect((await a.scaleAllQueues())[0]).toMatchObject({ reason: 'standby' });
    await b.stop();
  });

  it('StoreLease recreates a deleted sentinel', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    const a = new Autoscaler(store, new NoopScaler(), { queues: { q: { maxConcurrency: 1 } }, clock, logger: 'silent' });
    await a.scaleAllQueues();
    await a.stop();
    const [sentinel] = await store.jobs({ queueName: LEASE_QUEUE });
    await store.delete(sentinel!.id);
    expect((await a.scaleAllQueues())[0]?.reason).toBe('standby'); // it noticed the sentinel was gone
    expect((await a.scaleAllQueues())[0]?.reason).toBe('at-target');
    expect(await store.count({ queueName: LEASE_QUEUE })).toBe(1);
    await a.stop();
  });

  it('InMemoryLease: expires without renewal', async () => {
    const clock = fakeClock();
    const lease = new InMemoryLease(clock);
    expect(await lease.acquire('a', 30_000)).toBe(true);
    expect(await lease.acquire('b', 30_000)).toBe(false);
    clock.advance(29_999);
    expect(await lease.acquire('b', 30_000)).toBe(false);
    clock.advance(1);
    expect(await lease.acquire('b', 30_000)).toBe(true);
    await lease.release('a'); // not the holder: no effect
    expect(await lease.acquire('a', 30_000)).toBe(false);
    await lease.release('b');
    expect(await lease.acquire('a', 30_000)).toBe(true);
  });

  it('a lease that cannot be read leaves the autoscaler idle, not active', async () => {
    const clock = fakeClock();
    const store = storeWith(clock);
    await store.add('q', 3);
    const scaler = new NoopScaler();
    const lease = { acquire: async () => Promise.reject(new Error('store down')), release: async () => {} };
    const a = new Autoscaler(store, scaler, { queues: { q: { maxConcurrency: 9 } }, clock, lease, logger: 'silent' });
    expect((await a.scaleAllQueues())[0]).toMatchObject({ reason: 'standby' });
    expect(scaler.calls).toEqual([]);
  });
});
