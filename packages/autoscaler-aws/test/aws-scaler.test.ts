import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { InvalidArgumentError, type QueueStats } from '@jqjobs/core';
import { Autoscaler, ChimeraScaler, ScalerFatalError, ScalerUnavailableError } from '@jqjobs/autoscaler';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AwsAutoScalingGroupScaler } from '../src/index.ts';
import { FakeAutoScaling } from './fake-autoscaling.ts';

function fakeClock(start = Date.UTC(2025, 0, 1)) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

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

async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (await cond()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not reached');
}

let fake: FakeAutoScaling;
let client: AutoScalingClient;
let clock: ReturnType<typeof fakeClock>;

beforeEach(async () => {
  fake = await new FakeAutoScaling().start();
  fake.groups.set('jq-email', {
    minSize: 0,
    maxSize: 10,
    desired: 5,
    instances: [
      { id: 'i-1', state: 'InService' },
      { id: 'i-2', state: 'InService' },
      { id: 'i-3', state: 'Pending' },
      { id: 'i-4', state: 'Pending:Wait' },
      { id: 'i-5', state: 'Terminating' },
      { id: 'i-6', state: 'Standby' },
      { id: 'i-7', state: 'Terminating:Wait' },
    ],
  });
  client = new AutoScalingClient({ endpoint: fake.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, maxAttempts: 1 });
  clock = fakeClock();
});
afterEach(async () => {
  vi.useRealTimers();
  client.destroy();
  await fake.close();
});

function scaler(extra: Partial<{ scaleDown: boolean; groupName: string; requestTimeoutSeconds: number; honorCooldown: boolean }> = {}) {
  return new AwsAutoScalingGroupScaler({ groupName: 'jq-email', client, clock, ...extra });
}

describe('AwsAutoScalingGroupScaler against a local Auto Scaling Query API', () => {
  it('counts live instances (InService and Pending) from one Describe per tick', async () => {
    const s = scaler();
    await s.prepareTick();
    expect(await s.countCurrentWorkersForQueue('email')).toBe(4);
    expect(await s.countCurrentWorkersForQueue('email')).toBe(4);
    expect(fake.calls).toEqual([
      {
        action: 'DescribeAutoScalingGroups',
        params: { Action: 'DescribeAutoScalingGroups', Version: '2011-01-01', 'AutoScalingGroupNames.member.1': 'jq-email' },
        contentType: 'application/x-www-form-urlencoded',
        signed: true,
      },
    ]);
    expect(s.lastState()).toEqual({ minSize: 0, maxSize: 10, desiredCapacity: 5, liveInstances: 4 });
  });

  it('scales up with SetDesiredCapacity', async () => {
    const s = scaler({ honorCooldown: true });
    await s.prepareTick();
    expect(await s.setCurrentWorkersForQueue(8, 'email')).toEqual({ count: 8, changed: true });
    expect(fake.calls.at(-1)?.params).toEqual({ Action: 'SetDesiredCapacity', Version: '2011-01-01', AutoScalingGroupName: 'jq-email', DesiredCapacity: '8', HonorCooldown: 'true' });
    expect(fake.groups.get('jq-email')?.desired).toBe(8);
  });

  it('clamps to MaxSize', async () => {
    const s = scaler();
    expect(await s.setCurrentWorkersForQueue(50, 'email')).toEqual({ count: 10, changed: true, note: 'clamped to MaxSize 10' });
    expect(fake.groups.get('jq-email')?.desired).toBe(10);
    expect(await s.setCurrentWorkersForQueue(50, 'email')).toEqual({ count: 10, changed: false, note: 'clamped to MaxSize 10; DesiredCapacity is already 10' });
    expect(fake.count('SetDesiredCapacity')).toBe(1);
  });

  it('only scales up by default; with scaleDown it lowers, never below MinSize', async () => {
    const up = scaler();
    expect(up.canScaleDown()).toBe(false);
    expect(await up.setCurrentWorkersForQueue(1, 'email')).toEqual({ count: 5, changed: false, note: 'DesiredCapacity is 5; this scaler does not scale down' });
    expect(await up.setCurrentWorkersForQueue(0, 'email')).toMatchObject({ count: 5, changed: false });
    expect(fake.count('SetDesiredCapacity')).toBe(0);
    fake.groups.get('jq-email')!.minSize = 2;
    const down = scaler({ scaleDown: true });
    expect(down.canScaleDown()).toBe(true);
    expect(await down.setCurrentWorkersForQueue(0, 'email')).toEqual({ count: 2, changed: true, note: 'raised to MinSize 2' });
    expect(fake.groups.get('jq-email')?.desired).toBe(2);
  });

  it('Throttling, ScalingActivityInProgress and ResourceContention are retried on a later tick', async () => {
    const s = scaler();
    fake.failNext('DescribeAutoScalingGroups', 400, 'Throttling', 'Rate exceeded');
    await s.prepareTick();
    const err = await s.countCurrentWorkersForQueue('email').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScalerUnavailableError);
    expect(err).toMatchObject({ providerCode: 'Throttling', status: 400, retryable: true });
    clock.advance(5_000);
    fake.failNext('SetDesiredCapacity', 400, 'ScalingActivityInProgress', 'Scaling activity is in progress');
    await expect(s.setCurrentWorkersForQueue(7, 'email')).rejects.toMatchObject({ name: 'ScalerUnavailableError', providerCode: 'ScalingActivityInProgressFault' });
    clock.advance(5_000);
    fake.failNext('SetDesiredCapacity', 500, 'ResourceContention', 'You already have a pending update');
    await expect(s.setCurrentWorkersForQueue(7, 'email')).rejects.toMatchObject({ name: 'ScalerUnavailableError', providerCode: 'ResourceContentionFault', status: 500 });
    clock.advance(5_000);
    expect(await s.setCurrentWorkersForQueue(7, 'email')).toEqual({ count: 7, changed: true });
  });

  it('429 and 503 make the count unknown, never 0', async () => {
    const s = scaler();
    for (const [status, code] of [
      [429, 'Throttling'],
      [503, 'ServiceUnavailable'],
    ] as const) {
      fake.failNext('DescribeAutoScalingGroups', status, code);
      clock.advance(5_000);
      await s.prepareTick();
      const err = await s.countCurrentWorkersForQueue('email').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ScalerUnavailableError);
      expect(err).toMatchObject({ status, retryable: true });
    }
  });

  it('401 / 403 and a missing group are fatal', async () => {
    const s = scaler();
    fake.failNext('DescribeAutoScalingGroups', 401, 'UnrecognizedClientException', 'The security token included in the request is invalid');
    await s.prepareTick();
    await expect(s.countCurrentWorkersForQueue('email')).rejects.toMatchObject({ name: 'ScalerFatalError', status: 401, retryable: false });
    clock.advance(5_000);
    fake.failNext('DescribeAutoScalingGroups', 403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    await s.prepareTick();
    await expect(s.countCurrentWorkersForQueue('email')).rejects.toBeInstanceOf(ScalerFatalError);
    const missing = scaler({ groupName: 'no-such-group' });
    await missing.prepareTick();
    await expect(missing.countCurrentWorkersForQueue('email')).rejects.toMatchObject({ name: 'ScalerFatalError', providerCode: 'group_not_found' });
  });

  it('ValidationError above MaxSize (MaxSize lowered since the read): retried, then clamped to the new MaxSize', async () => {
    const g = fake.groups.get('jq-email')!;
    g.enforcedMaxSize = 8; // lowered after Describe answered 10
    const s = scaler();
    await s.prepareTick();
    const err = await s.setCurrentWorkersForQueue(10, 'email').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScalerUnavailableError);
    expect(err).toMatchObject({ providerCode: 'ValidationError', status: 400 });
    expect((err as Error).message).toMatch(/above max value 8/);
    g.maxSize = 8;
    await s.prepareTick();
    expect(await s.setCurrentWorkersForQueue(10, 'email')).toEqual({ count: 8, changed: true, note: 'clamped to MaxSize 8' });
  });

  it('one write in flight: an unanswered SetDesiredCapacity is not repeated', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const s = scaler();
    await s.prepareTick();
    const release = fake.holdNext('SetDesiredCapacity');
    const first = s.setCurrentWorkersForQueue(7, 'email').catch((e: unknown) => e);
    await until(() => fake.count('SetDesiredCapacity') === 1);
    vi.advanceTimersByTime(30_000);
    expect(await first).toMatchObject({ providerCode: 'timeout' });
    await s.prepareTick();
    await expect(s.setCurrentWorkersForQueue(9, 'email')).rejects.toMatchObject({ providerCode: 'write_in_flight' });
    expect(fake.count('SetDesiredCapacity')).toBe(1);
    release();
    await until(() => fake.groups.get('jq-email')!.desired === 7);
    await until(async () => (await s.setCurrentWorkersForQueue(9, 'email').then(() => true, () => false)));
    expect(fake.groups.get('jq-email')?.desired).toBe(9);
  });

  it('rejects bad options and bad counts, sending nothing', async () => {
    expect(() => new AwsAutoScalingGroupScaler({ groupName: '', client })).toThrow(InvalidArgumentError);
    expect(() => new AwsAutoScalingGroupScaler({ groupName: 'g', client, region: 'us-east-1' } as never)).toThrow(/exactly one of region and client/);
    expect(() => new AwsAutoScalingGroupScaler({ groupName: 'g' } as never)).toThrow(/exactly one/);
    expect(() => new AwsAutoScalingGroupScaler({ groupName: 'g', region: 'US EAST' })).toThrow(/region/);
    expect(() => new AwsAutoScalingGroupScaler({ groupName: 'g', client: {} as never })).toThrow(/AutoScalingClient/);
    expect(() => new AwsAutoScalingGroupScaler({ groupName: 'g', client, minSecondsToProcessDownScale: -1 })).toThrow(InvalidArgumentError);
    expect(() => new AwsAutoScalingGroupScaler({ groupName: 'g', client, scaleDown: 'yes' as never })).toThrow(/scaleDown/);
    const s = scaler();
    await expect(s.setCurrentWorkersForQueue(-1, 'email')).rejects.toThrow(InvalidArgumentError);
    await expect(s.setCurrentWorkersForQueue(2.5, 'email')).rejects.toThrow(/integer ≥ 0/);
    await expect(s.countCurrentWorkersForQueue('')).rejects.toThrow(InvalidArgumentError);
    expect(fake.calls).toEqual([]);
    expect(new AwsAutoScalingGroupScaler({ groupName: 'g', region: 'eu-west-1' }).minSecondsToProcessDownScale()).toBe(60);
  });
});

describe('AwsAutoScalingGroupScaler under the Autoscaler', () => {
  it('a provider answering 503 never causes a write that lowers capacity, even with scaleDown', async () => {
    const store = fakeStore({ email: 0 });
    const a = new Autoscaler(store, scaler({ scaleDown: true }), { queues: { email: { maxConcurrency: 50, scaleDownMinJump: 1 } }, clock, lease: null, logger: 'silent' });
    for (const pending of [0, 2, 9]) {
      store.pending.email = pending;
      fake.failNext('DescribeAutoScalingGroups', 503, 'ServiceUnavailable', 'Service is unavailable');
      const [r] = await a.scaleAllQueues();
      expect(r).toMatchObject({ reason: 'unknown-workers', action: 'none' });
      clock.advance(5_000);
    }
    expect(fake.count('SetDesiredCapacity')).toBe(0);
    expect(fake.groups.get('jq-email')?.desired).toBe(5);
  });

  it('scale-downs are recorded as unsupported, scale-ups clamp, and a failing group does not stop the others', async () => {
    fake.groups.set('jq-video', { minSize: 0, maxSize: 3, desired: 0, instances: [] });
    fake.groups.set('jq-sms', { minSize: 0, maxSize: 3, desired: 1, instances: [{ id: 'i-9', state: 'InService' }] });
    const store = fakeStore({ email: 1, video: 12, sms: 3 });
    const chimera = new ChimeraScaler({ email: scaler(), video: scaler({ groupName: 'jq-video' }), sms: scaler({ groupName: 'jq-sms' }) });
    const a = new Autoscaler(store, chimera, {
      queues: { email: { maxConcurrency: 10, scaleDownMinJump: 1 }, video: { maxConcurrency: 10 }, sms: { maxConcurrency: 10 } },
      clock,
      lease: null,
      logger: 'silent',
    });
    fake.failNext('SetDesiredCapacity', 400, 'Throttling', 'Rate exceeded'); // the first write (video's) is throttled
    const records = await a.scaleAllQueues();
    expect(records.map((r) => [r.queue, r.reason, r.outcome])).toEqual([
      ['email', 'scale-down-unsupported', 'none'],
      ['video', 'scale-up', expect.any(String)],
      ['sms', 'scale-up', expect.any(String)],
    ]);
    const outcomes = records.slice(1).map((r) => r.outcome).sort();
    expect(outcomes).toEqual(['applied', 'failed']);
    clock.advance(5_000);
    const again = await a.scaleAllQueues();
    expect(again.map((r) => [r.queue, r.outcome])).toContainEqual(['video', 'applied']);
    expect(a.explain('video')).toMatchObject({ applied: 3, note: 'clamped to MaxSize 3' });
    expect(fake.groups.get('jq-video')?.desired).toBe(3);
    expect(fake.groups.get('jq-sms')?.desired).toBe(3);
    expect(fake.groups.get('jq-email')?.desired).toBe(5);
  });
});
