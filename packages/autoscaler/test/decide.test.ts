import { describe, expect, it } from 'vitest';
import { decide, type DecisionInputs, EMPTY_HISTORY, type QueueHistory, recordTick } from '../src/index.ts';
import { policy } from './helpers.ts';

const T0 = Date.UTC(2025, 0, 1);

function inputs(over: Partial<DecisionInputs> & { pending?: number } = {}): DecisionInputs {
  const { pending, ...rest } = over;
  return {
    queue: 'email',
    policy: policy(),
    stats: { queued: pending ?? 0, running: 0, oldestQueuedAgeMs: null },
    current: 0,
    settleMs: 15_000,
    pollingIntervalMs: 5_000,
    canScaleDown: true,
    ...rest,
  };
}

/** Runs decide and, when it acts, records the change as applied. */
function step(h: QueueHistory, i: DecisionInputs, now: number) {
  const d = decide(h, i, now);
  return { d, h: recordTick(h, d, d.action === 'none' ? null : d.to, i.policy.scaleDownStabilizationMs) };
}

describe('decide: the original gates', () => {
  it('scales up at once', () => {
    const d = decide(EMPTY_HISTORY, inputs({ pending: 7, current: 2 }), T0);
    expect(d).toMatchObject({ action: 'scale-up', reason: 'scale-up', from: 2, to: 7, desired: 7 });
    expect(d.message).toBe('WILL scale email from 2 to 7 (pending 7, linear)');
  });

  it('does nothing at the target', () => {
    expect(decide(EMPTY_HISTORY, inputs({ pending: 3, current: 3 }), T0)).toMatchObject({ action: 'none', reason: 'at-target' });
  });

  it('scales to 0 at once, even while a scale-down is settling', () => {
    const settling: QueueHistory = { ...EMPTY_HISTORY, lastScaleDownAt: T0 - 1_000 };
    const d = decide(settling, inputs({ pending: 0, current: 4 }), T0);
    expect(d).toMatchObject({ action: 'scale-down', reason: 'scale-to-zero', to: 0 });
  });

  it('scales down only when the drop is at least scaleDownMinJump (≥, as the original coded it)', () => {
    expect(decide(EMPTY_HISTORY, inputs({ pending: 11, current: 30 }), T0)).toMatchObject({ action: 'none', reason: 'below-min-jump', gates: { drop: 19 } });
    expect(decide(EMPTY_HISTORY, inputs({ pending: 10, current: 30 }), T0)).toMatchObject({ action: 'scale-down', reason: 'scale-down', to: 10 });
    const jump5 = inputs({ pending: 10, current: 15, policy: policy({ scaleDownMinJump: 5 }) });
    expect(decide(EMPTY_HISTORY, jump5, T0)).toMatchObject({ action: 'scale-down', to: 10 });
  });

  it('holds scale-ups and further scale-downs while a scale-down settles, with the settle time of this queue', () => {
    let h = EMPTY_HISTORY;
    ({ h } = step(h, inputs({ pending: 10, current: 40 }), T0));
    expect(h.lastScaleDownAt).toBe(T0);

    const up = decide(h, inputs({ pending: 25, current: 10 }), T0 + 14_999);
    expect(up).toMatchObject({ action: 'none', reason: 'settling', gates: { settling: true, settleRemainingMs: 1 } });
    expect(up.message).toMatch(/WONT scale email: would scale up 10 → 25, but a scale-down is settling/);

    const down = decide(h, inputs({ pending: 1, current: 40 }), T0 + 10_000);
    expect(down).toMatchObject({ action: 'none', reason: 'settling' });

    expect(decide(h, inputs({ pending: 25, current: 10 }), T0 + 15_000)).toMatchObject({ action: 'scale-up', to: 25 });
    // A queue on a faster scaler settles sooner.
    expect(decide(h, inputs({ pending: 25, current: 10, settleMs: 5_000 }), T0 + 5_000)).toMatchObject({ action: 'scale-up' });
  });

  it('a scale-up does not start a settle period', () => {
    let h = EMPTY_HISTORY;
    ({ h } = step(h, inputs({ pending: 30, current: 0 }), T0));
    expect(h.lastScaleUpAt).toBe(T0);
    expect(decide(h, inputs({ pending: 0, current: 30 }), T0 + 1)).toMatchObject({ action: 'scale-down', to: 0 });
    expect(decide(h, inputs({ pending: 60, current: 30 }), T0 + 1)).toMatchObject({ action: 'scale-up', to: 60 });
  });

  it('the history is kept: a failed or declined write does not count as a scale-down', () => {
    const d = decide(EMPTY_HISTORY, inputs({ pending: 0, current: 30 }), T0);
    expect(recordTick(EMPTY_HISTORY, d, null, 0).lastScaleDownAt).toBeNull();
    const h = recordTick(EMPTY_HISTORY, d, 0, 0);
    expect(h).toMatchObject({ lastScaleDownAt: T0, scaleEvents: 1 });
    expect(h.recent).toHaveLength(1);
  });
});

describe('decide: unknown is never zero', () => {
  it('changes nothing when the worker count is unknown, whatever the queue says', () => {
    for (const pending of [0, 5, 500]) {
      const d = decide(EMPTY_HISTORY, inputs({ pending, current: null }), T0);
      expect(d).toMatchObject({ action: 'none', reason: 'unknown-workers', to: null });
    }
  });

  it('changes nothing when the stats are unknown', () => {
    const d = decide(EMPTY_HISTORY, inputs({ stats: null, current: 40 }), T0);
    expect(d).toMatchObject({ action: 'none', reason: 'unknown-stats', desired: null });
  });
});

describe('decide: beyond the original', () => {
  it('stabilisation window: scales down only to the highest recent recommendation', () => {
    const p = policy({ scaleDownStabilizationMs: 60_000, scaleDownMinJump: 1 });
    let h = EMPTY_HISTORY;
    ({ h } = step(h, inputs({ policy: p, pending: 30, current: 0 }), T0));
    let r = step(h, inputs({ policy: p, pending: 10, current: 30 }), T0 + 5_000);
    expect(r.d).toMatchObject({ action: 'none', reason: 'stabilizing', desired: 10, target: 30 });
    h = r.h;
    r = step(h, inputs({ policy: p, pending: 0, current: 30 }), T0 + 30_000);
    expect(r.d).toMatchObject({ action: 'none', reason: 'stabilizing' });
    h = r.h;
    // The 30 has left the window; the highest since is 10.
    r = step(h, inputs({ policy: p, pending: 0, current: 30 }), T0 + 60_000);
    expect(r.d).toMatchObject({ action: 'scale-down', reason: 'scale-down', to: 10, target: 10 });
    h = r.h;
    r = step(h, inputs({ policy: p, pending: 0, current: 10 }), T0 + 64_000);
    expect(r.d).toMatchObject({ action: 'none', reason: 'stabilizing' });
    r = step(r.h, inputs({ policy: p, pending: 0, current: 10 }), T0 + 120_000);
    expect(r.d).toMatchObject({ action: 'scale-down', reason: 'scale-to-zero', to: 0 });
  });

  it('stabilisation never delays a scale-up', () => {
    const p = policy({ scaleDownStabilizationMs: 600_000 });
    const { h } = step(EMPTY_HISTORY, inputs({ policy: p, pending: 5, current: 0 }), T0);
    expect(decide(h, inputs({ policy: p, pending: 9, current: 5 }), T0 + 1)).toMatchObject({ action: 'scale-up', to: 9 });
  });

  it('a driver that cannot scale down gets no scale-down, not even to 0', () => {
    expect(decide(EMPTY_HISTORY, inputs({ pending: 0, current: 8, canScaleDown: false }), T0)).toMatchObject({ action: 'none', reason: 'scale-down-unsupported' });
    expect(decide(EMPTY_HISTORY, inputs({ pending: 9, current: 8, canScaleDown: false }), T0)).toMatchObject({ action: 'scale-up' });
  });

  it('latencyTarget uses the age of the oldest due job', () => {
    const p = policy({ algorithm: 'latencyTarget', latencyTargetMs: 60_000, averageJobMs: 10_000 });
    // reaction = 5 s poll + 15 s settle → a new worker has 40 s for a fresh job: 1 + 4 jobs.
    const fresh = decide(EMPTY_HISTORY, inputs({ policy: p, stats: { queued: 50, running: 0, oldestQueuedAgeMs: 0 }, current: 0 }), T0);
    expect(fresh).toMatchObject({ action: 'scale-up', to: 10 });
    const late = decide(EMPTY_HISTORY, inputs({ policy: p, stats: { queued: 50, running: 0, oldestQueuedAgeMs: 41_000 }, current: 10 }), T0);
    // 10 workers start 2 jobs each in the 19 s left; the other 30 jobs are late already: one new worker each.
    expect(late).toMatchObject({ action: 'scale-up', to: 40 });
    expect(late.inputs.oldestQueuedAgeMs).toBe(41_000);
  });

  it('is pure: the same history, inputs and time give the same decision', () => {
    const h: QueueHistory = { ...EMPTY_HISTORY, lastScaleDownAt: T0 - 3_000, recent: [{ at: T0 - 3_000, desired: 4 }] };
    const i = inputs({ pending: 12, current: 4 });
    expect(decide(h, i, T0)).toEqual(decide(h, i, T0));
    expect(h.recent).toHaveLength(1);
  });
});
