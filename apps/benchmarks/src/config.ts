import type { Params, ScenarioName } from './scenarios.ts';

export interface Preset {
  /** Repeats per scenario: more for the scenarios the targets are about, which the noise moves most. */
  reps: Record<ScenarioName, number>;
  params: Params;
}

/** The full run: about 16 minutes on 2 shared cores. */
export const FULL: Preset = {
  reps: { 'enqueue-serial': 3, 'enqueue-10': 3, 'enqueue-100': 3, 'enqueue-bulk': 3, drain: 5, latency: 4 },
  params: {
    enqueueN: 2000,
    bulkN: 20_000,
    bulkChunk: 1000,
    drainN: 10_000,
    concurrency: 10,
    latencyN: 50,
    latencyRate: 4,
    timeboxMs: 20_000,
  },
};

/** CI's smoke run: every adapter and scenario once, small N. */
export const QUICK: Preset = {
  reps: { 'enqueue-serial': 1, 'enqueue-10': 1, 'enqueue-100': 1, 'enqueue-bulk': 1, drain: 1, latency: 1 },
  params: {
    enqueueN: 200,
    bulkN: 2000,
    bulkChunk: 1000,
    drainN: 1000,
    concurrency: 10,
    latencyN: 8,
    latencyRate: 4,
    timeboxMs: 4000,
  },
};

/** Default Redis db per mode, so a CI quick run never flushes a full run's db. Override with JQ_BENCH_REDIS_DB. */
export const REDIS_DB = { full: 9, quick: 10 } as const;
