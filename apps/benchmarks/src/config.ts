import type { Params } from './scenarios.ts';

/** The full run: about 15 minutes on 2 cores. */
export const FULL: { params: Params; reps: number } = {
  reps: 3,
  params: {
    enqueueN: 2000,
    bulkN: 20_000,
    bulkChunk: 1000,
    drainN: 10_000,
    concurrency: 10,
    latencyN: 60,
    latencyRate: 4,
    timeboxMs: 30_000,
  },
};

/** CI's smoke run: every adapter and scenario once, small N. */
export const QUICK: { params: Params; reps: number } = {
  reps: 1,
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
