import { InvalidArgumentError } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { calculateLatencyScale, calculateScale, type ScalingAlgorithm } from '../src/index.ts';

describe('calculateScale (the original table)', () => {
  const table: Array<[ScalingAlgorithm, number, number, number]> = [
    // algorithm, pending, maxConcurrency, expected
    ['linear', 0, 10, 0],
    ['linear', 1, 10, 1],
    ['linear', 5, 10, 5],
    ['linear', 10, 10, 10],
    ['linear', 11, 10, 10],
    ['linear', 1000, 10, 10],
    ['linear', 0, 0, 0],
    ['linear', 1, 0, 1],
    ['linear', 50, 0, 1],
    ['halfLinear', 0, 10, 0],
    ['halfLinear', 1, 10, 1],
    ['halfLinear', 2, 10, 1],
    ['halfLinear', 3, 10, 1],
    ['halfLinear', 4, 10, 2],
    ['halfLinear', 5, 10, 2],
    ['halfLinear', 19, 10, 9],
    ['halfLinear', 20, 10, 10],
    ['halfLinear', 21, 10, 10],
    ['halfLinear', 100, 10, 10],
    ['halfLinear', 1, 0, 1],
    ['halfLinear', 9, 0, 1],
    ['halfLinear', 0, 0, 0],
  ];
  it.each(table)('%s with %i pending, max %i → %i', (algorithm, pending, max, expected) => {
    expect(calculateScale(algorithm, pending, max)).toBe(expected);
  });

  it('rejects an unknown algorithm and counts that are not integers ≥ 0', () => {
    expect(() => calculateScale('quadratic' as ScalingAlgorithm, 1, 1)).toThrow(InvalidArgumentError);
    expect(() => calculateScale('linear', -1, 1)).toThrow(/pending must be an integer ≥ 0/);
    expect(() => calculateScale('linear', 1.5, 1)).toThrow(InvalidArgumentError);
    expect(() => calculateScale('linear', 1, -3)).toThrow(/maxConcurrency/);
    expect(() => calculateScale('linear', Number.NaN, 1)).toThrow(InvalidArgumentError);
  });
});

describe('calculateLatencyScale', () => {
  // target 60 s, jobs 10 s, boot 10 s, reaction (poll + settle + boot) 30 s
  const base = {
    queued: 0,
    running: 0,
    oldestQueuedAgeMs: null,
    current: 0,
    maxConcurrency: 100,
    latencyTargetMs: 60_000,
    averageJobMs: 10_000,
    startupMs: 10_000,
    reactionMs: 30_000,
  };

  it('gives nothing for an empty queue and keeps the running jobs', () => {
    expect(calculateLatencyScale(base)).toBe(0);
    expect(calculateLatencyScale({ ...base, running: 7, current: 9 })).toBe(7);
  });

  it('packs several queued jobs per new worker while there is slack', () => {
    // New workers have 60 − 30 = 30 s: each starts 1 + 3 jobs in time.
    expect(calculateLatencyScale({ ...base, queued: 40, oldestQueuedAgeMs: 0 })).toBe(10);
  });

  it('counts what the workers already there will do', () => {
    // 10 booting workers have 60 − 10 = 50 s: 6 jobs each, so 7 of them cover 40 jobs.
    expect(calculateLatencyScale({ ...base, queued: 40, oldestQueuedAgeMs: 0, current: 10 })).toBe(7);
    // 10 busy workers, oldest job 10 s old: 40 s left, 4 more jobs each cover 30 queued jobs.
    expect(calculateLatencyScale({ ...base, queued: 30, running: 10, oldestQueuedAgeMs: 10_000, current: 10 })).toBe(10);
    // ...but not 60: the other 20 need new workers, which have 20 s (3 jobs each).
    expect(calculateLatencyScale({ ...base, queued: 60, running: 10, oldestQueuedAgeMs: 10_000, current: 10 })).toBe(10 + 7);
    // An unknown current count assumes only the busy workers exist.
    expect(calculateLatencyScale({ ...base, queued: 40, oldestQueuedAgeMs: 0, current: null })).toBe(10);
  });

  it('falls back to one worker per job when the oldest job has no time left', () => {
    expect(calculateLatencyScale({ ...base, queued: 40, oldestQueuedAgeMs: 55_000 })).toBe(40);
  });

  it('caps at maxConcurrency and keeps at least 1 for pending work', () => {
    expect(calculateLatencyScale({ ...base, queued: 400, oldestQueuedAgeMs: 59_000, maxConcurrency: 25 })).toBe(25);
    expect(calculateLatencyScale({ ...base, queued: 3, maxConcurrency: 0 })).toBe(1);
  });

  it('rejects counts that are not integers ≥ 0', () => {
    expect(() => calculateLatencyScale({ ...base, queued: -1 })).toThrow(InvalidArgumentError);
  });
});
