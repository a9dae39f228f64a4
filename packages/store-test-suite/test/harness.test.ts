import { describe, expect, it } from 'vitest';
import { eventually, gate, req, TestClock } from '../src/index.ts';

describe('TestClock', () => {
  it('follows real time plus an offset, and advances', () => {
    const clock = new TestClock();
    const before = Date.now();
    clock.advance(60_000);
    expect(clock.now()).toBeGreaterThanOrEqual(before + 60_000);
    expect(clock.now()).toBeLessThan(Date.now() + 61_000);
  });

  it('stands still when frozen, moves only when told, and resumes from where it stood', async () => {
    const clock = new TestClock();
    clock.freeze(1_000);
    await new Promise((r) => setTimeout(r, 15));
    expect(clock.now()).toBe(1_000);
    clock.advance(10_000);
    expect(clock.now()).toBe(11_000);
    clock.unfreeze();
    expect(clock.now()).toBeGreaterThanOrEqual(11_000);
    expect(clock.now()).toBeLessThan(12_000);
  });
});

describe('helpers', () => {
  it('gate holds until opened; eventually polls until true and fails with what it waited for', async () => {
    const g = gate();
    let opened = false;
    void g.promise.then(() => (opened = true));
    await Promise.resolve();
    expect(opened).toBe(false);
    g.open();
    await eventually(() => opened, 'gate opened');
    await expect(eventually(() => false, 'never', 30)).rejects.toThrow('timed out waiting for: never');
  });

  it('req builds a claim request with test defaults', () => {
    expect(req()).toEqual({ workerId: 'kit-worker', queues: null, limit: 1, leaseMs: 30_000 });
    expect(req(5, ['a'], 10)).toEqual({ workerId: 'kit-worker', queues: ['a'], limit: 5, leaseMs: 10 });
  });
});
