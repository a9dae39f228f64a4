import { InvalidArgumentError } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { ChimeraScaler, NoopScaler, type Scalable, ScalerUnavailableError, UnknownQueueError } from '../src/index.ts';
import { ScriptedScaler } from './helpers.ts';

describe('NoopScaler', () => {
  it('records the counts it is set to and reports the last one', async () => {
    const s = new NoopScaler({ initial: { email: 2 } });
    expect(await s.countCurrentWorkersForQueue('email')).toBe(2);
    expect(await s.countCurrentWorkersForQueue('other')).toBe(0);
    expect(await s.setCurrentWorkersForQueue(5, 'email')).toEqual({ count: 5, changed: true });
    expect(await s.setCurrentWorkersForQueue(5, 'email')).toEqual({ count: 5, changed: false });
    expect(await s.countCurrentWorkersForQueue('email')).toBe(5);
    expect(s.calls).toEqual([
      { queue: 'email', count: 5 },
      { queue: 'email', count: 5 },
    ]);
  });

  it('rejects bad counts and names and records nothing', async () => {
    const s = new NoopScaler();
    await expect(s.setCurrentWorkersForQueue(-1, 'email')).rejects.toThrow(InvalidArgumentError);
    await expect(s.setCurrentWorkersForQueue(1.5, 'email')).rejects.toThrow(/integer ≥ 0/);
    await expect(s.setCurrentWorkersForQueue(1, '')).rejects.toThrow(/empty/);
    expect(s.calls).toEqual([]);
    expect(() => new NoopScaler({ initial: { email: -2 } })).toThrow(InvalidArgumentError);
    expect(() => new NoopScaler({ minSecondsToProcessDownScale: -1 })).toThrow(InvalidArgumentError);
  });
});

describe('ChimeraScaler', () => {
  it('rejects an empty map, bad names and things that are not scalers', () => {
    expect(() => new ChimeraScaler({})).toThrow(/empty/);
    expect(() => new ChimeraScaler(null as never)).toThrow(InvalidArgumentError);
    expect(() => new ChimeraScaler(new Map() as never)).toThrow(InvalidArgumentError);
    expect(() => new ChimeraScaler({ '': new NoopScaler() })).toThrow(/empty/);
    expect(() => new ChimeraScaler({ 'a\nb': new NoopScaler() })).toThrow(/control characters/);
    expect(() => new ChimeraScaler({ email: {} as Scalable })).toThrow(/does not implement Scalable/);
  });

  it('routes each queue to its scaler and refuses unknown queues', async () => {
    const email = new NoopScaler({ minSecondsToProcessDownScale: 15 });
    const video = new NoopScaler({ minSecondsToProcessDownScale: 60 });
    const c = new ChimeraScaler({ email, video });
    await c.setCurrentWorkersForQueue(3, 'email');
    await c.setCurrentWorkersForQueue(4, 'video');
    expect(email.calls).toEqual([{ queue: 'email', count: 3 }]);
    expect(video.calls).toEqual([{ queue: 'video', count: 4 }]);
    expect(await c.countCurrentWorkersForQueue('video')).toBe(4);
    expect(c.minSecondsToProcessDownScale('email')).toBe(15);
    expect(c.minSecondsToProcessDownScale('video')).toBe(60);
    expect(c.minSecondsToProcessDownScale()).toBe(60);
    expect(c.handlesQueue('email')).toBe(true);
    expect(c.handlesQueue('sms')).toBe(false);
    await expect(c.countCurrentWorkersForQueue('sms')).rejects.toThrow(UnknownQueueError);
    await expect(c.setCurrentWorkersForQueue(1, 'sms')).rejects.toThrow(UnknownQueueError);
    expect(() => c.minSecondsToProcessDownScale('sms')).toThrow(UnknownQueueError);
    expect(email.calls).toHaveLength(1);
  });

  it('groups prepareTick and batched sets per scaler, isolating failures', async () => {
    const prepared: string[][] = [];
    const batched: unknown[] = [];
    const batching: Scalable = Object.assign(new ScriptedScaler(), {
      async prepareTick(queues: readonly string[]) {
        prepared.push([...queues]);
      },
      async setCurrentWorkersForQueues(updates: ReadonlyArray<{ queue: string; count: number }>) {
        batched.push(updates);
        return updates.map((u) => ({ queue: u.queue, ok: true as const, count: u.count, changed: true }));
      },
    });
    const failing = new ScriptedScaler();
    failing.setError = new ScalerUnavailableError('503');
    const plain = new NoopScaler();
    const c = new ChimeraScaler({ a: batching, b: batching, f: failing, p: plain });
    await c.prepareTick(['a', 'b', 'f', 'p']);
    expect(prepared).toEqual([['a', 'b']]);
    const results = await c.setCurrentWorkersForQueues([
      { queue: 'a', count: 1 },
      { queue: 'f', count: 2 },
      { queue: 'b', count: 3 },
      { queue: 'p', count: 4 },
    ]);
    expect(batched).toEqual([
      [
        { queue: 'a', count: 1 },
        { queue: 'b', count: 3 },
      ],
    ]);
    const byQueue = Object.fromEntries(results.map((r) => [r.queue, r.ok]));
    expect(byQueue).toEqual({ a: true, b: true, f: false, p: true });
    expect(plain.calls).toEqual([{ queue: 'p', count: 4 }]);
  });

  it('canScaleDown follows the queue’s scaler', () => {
    const up: Scalable = Object.assign(new NoopScaler(), { canScaleDown: () => false });
    const c = new ChimeraScaler({ up, any: new NoopScaler() });
    expect(c.canScaleDown('up')).toBe(false);
    expect(c.canScaleDown('any')).toBe(true);
  });
});
