import { describe, expect, it } from 'vitest';
import { policy } from './helpers.ts';
import { type SimPolicy, type SimResult, simulate, syntheticTrace } from './simulation.ts';

// Heroku-like: a tick every 5 s, 15 s settle time, dynos take 10 s to boot.
const setup = { pollingIntervalMs: 5_000, settleMs: 15_000, startupMs: 10_000 };

const original: SimPolicy = { name: 'original (linear, min jump 20, history never saved)', policy: policy({ maxConcurrency: 50 }), saveHistory: false };
const fixed: SimPolicy = { name: 'original with the history saved', policy: policy({ maxConcurrency: 50 }), saveHistory: true };
function latency(targetSeconds: number, windowSeconds: number): SimPolicy {
  return {
    name: `latencyTarget ${targetSeconds} s, stabilisation ${windowSeconds} s, min jump 5`,
    policy: policy({
      maxConcurrency: 50,
      algorithm: 'latencyTarget',
      latencyTargetMs: targetSeconds * 1000,
      averageJobMs: 10_000,
      workerStartupMs: 10_000,
      scaleDownStabilizationMs: windowSeconds * 1000,
      scaleDownMinJump: 5,
    }),
    saveHistory: true,
  };
}

function row(r: SimResult) {
  return [r.name, r.scaleEvents, r.scaleUps, r.scaleDowns, r.maxWaitMs / 1000, r.p95WaitMs / 1000, r.lateJobs, r.workerSeconds, r.peakWorkers];
}

describe('simulation: bursts and a sawtooth through the decision function', () => {
  const trace = syntheticTrace(7);

  it('the latency-aware, stabilised policy scales far less often than the original and keeps every job within its target', () => {
    const base = simulate(trace, original, setup);
    const results = [
      { target: 60, r: simulate(trace, latency(60, 60), setup, 60_000) },
      { target: 60, r: simulate(trace, latency(60, 120), setup, 60_000) },
      { target: 120, r: simulate(trace, latency(120, 120), setup, 120_000) },
    ];
    for (const { target, r } of results) {
      expect(r.scaleEvents).toBeLessThan(base.scaleEvents);
      expect(r.maxWaitMs).toBeLessThanOrEqual(target * 1000);
      expect(r.lateJobs).toBe(0);
      expect(r.interrupted).toBe(0);
    }
    // The numbers reported in the README (deterministic: seeded trace, no timers).
    // name, events, ups, downs, max wait s, p95 wait s, late jobs, worker-seconds, peak workers
    expect([base, simulate(trace, fixed, setup), ...results.map((x) => x.r)].map(row)).toEqual([
      ['original (linear, min jump 20, history never saved)', 233, 160, 73, 37, 22, 0, 23165, 50],
      ['original with the history saved', 206, 149, 57, 37, 28, 0, 23050, 50],
      ['latencyTarget 60 s, stabilisation 60 s, min jump 5', 81, 55, 26, 47, 37, 0, 31905, 42],
      ['latencyTarget 60 s, stabilisation 120 s, min jump 5', 45, 29, 16, 47, 37, 0, 43165, 42],
      ['latencyTarget 120 s, stabilisation 120 s, min jump 5', 23, 18, 5, 105, 82, 0, 32925, 20],
    ]);
    expect(base.jobs).toBe(1547);
  });

  it('holds for other random job durations too', () => {
    for (const seed of [1, 2, 3, 11, 42]) {
      const t = syntheticTrace(seed);
      const base = simulate(t, original, setup);
      for (const [target, window] of [
        [60, 60],
        [60, 120],
        [120, 120],
      ] as const) {
        const r = simulate(t, latency(target, window), setup, target * 1000);
        expect(r.scaleEvents, `seed ${seed}`).toBeLessThan(base.scaleEvents / 2);
        expect(r.maxWaitMs, `seed ${seed}`).toBeLessThanOrEqual(target * 1000);
      }
    }
  });
});
