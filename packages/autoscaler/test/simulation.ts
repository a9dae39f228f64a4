/**
 * A discrete-time simulation (1 s steps) of one queue, its workers and the
 * autoscaler's decision function, used to compare policies on a synthetic
 * arrival trace. Workers run one job at a time; a new worker takes `startupMs`
 * to boot; a scale-down removes idle workers first, then booting ones, then busy
 * ones (whose jobs go back to the queue, as a SIGTERM'd dyno's would).
 */
import { decide, EMPTY_HISTORY, type QueueHistory, type QueuePolicy, recordTick } from '../src/index.ts';

export interface Arrival {
  at: number;
  durationMs: number;
}

export interface SimPolicy {
  name: string;
  policy: QueuePolicy;
  /** False reproduces the original bug: the history was never saved, so nothing ever settled. */
  saveHistory: boolean;
}

export interface SimSetup {
  pollingIntervalMs: number;
  settleMs: number;
  startupMs: number;
}

export interface SimResult {
  name: string;
  jobs: number;
  scaleEvents: number;
  scaleUps: number;
  scaleDowns: number;
  maxWaitMs: number;
  p95WaitMs: number;
  /** Jobs that waited longer than `latencyTargetMs` (when given). */
  lateJobs: number;
  /** Jobs cut off by a scale-down and run again. */
  interrupted: number;
  /** Σ workers × seconds: what the pool cost. */
  workerSeconds: number;
  peakWorkers: number;
}

interface Job {
  at: number;
  durationMs: number;
  queuedSince: number;
  maxWaitMs: number;
  done: boolean;
}

interface SimWorker {
  readyAt: number;
  job: Job | null;
  busyUntil: number;
}

const STEP = 1000;

export function simulate(trace: readonly Arrival[], sim: SimPolicy, setup: SimSetup, latencyTargetMs = Number.POSITIVE_INFINITY): SimResult {
  const arrivals = [...trace].sort((a, b) => a.at - b.at);
  const jobs: Job[] = [];
  const queue: Job[] = [];
  let workers: SimWorker[] = [];
  let history: QueueHistory = EMPTY_HISTORY;
  const result: SimResult = { name: sim.name, jobs: arrivals.length, scaleEvents: 0, scaleUps: 0, scaleDowns: 0, maxWaitMs: 0, p95WaitMs: 0, lateJobs: 0, interrupted: 0, workerSeconds: 0, peakWorkers: 0 };
  let next = 0;
  for (let t = 0; next < arrivals.length || jobs.some((j) => !j.done) || workers.length > 0; t += STEP) {
    if (t > 48 * 3600_000) throw new Error('simulation did not drain');
    while (next < arrivals.length && arrivals[next]!.at <= t) {
      const a = arrivals[next++]!;
      const job: Job = { at: a.at, durationMs: a.durationMs, queuedSince: a.at, maxWaitMs: 0, done: false };
      jobs.push(job);
      queue.push(job);
    }
    for (const w of workers) {
      if (w.job && w.busyUntil <= t) {
        w.job.done = true;
        w.job = null;
      }
    }
    for (const w of workers) {
      if (w.job || w.readyAt > t || queue.length === 0) continue;
      const job = queue.shift()!;
      job.maxWaitMs = Math.max(job.maxWaitMs, t - job.queuedSince);
      w.job = job;
      w.busyUntil = t + job.durationMs;
    }
    if (t % setup.pollingIntervalMs === 0) {
      const running = workers.filter((w) => w.job).length;
      const d = decide(
        history,
        {
          queue: 'sim',
          policy: sim.policy,
          stats: { queued: queue.length, running, oldestQueuedAgeMs: queue.length ? t - Math.min(...queue.map((j) => j.queuedSince)) : null },
          current: workers.length,
          settleMs: setup.settleMs,
          pollingIntervalMs: setup.pollingIntervalMs,
          canScaleDown: true,
        },
        t,
      );
      const to = d.action === 'none' ? null : d.to;
      if (to !== null && to !== workers.length) {
        result.scaleEvents++;
        if (to > workers.length) {
          result.scaleUps++;
          for (let i = workers.length; i < to; i++) workers.push({ readyAt: t + setup.startupMs, job: null, busyUntil: 0 });
        } else {
          result.scaleDowns++;
          const rank = (w: SimWorker) => (w.job ? 2 : w.readyAt > t ? 1 : 0);
          const order = [...workers].sort((a, b) => rank(a) - rank(b));
          const removed = order.slice(0, workers.length - to);
          for (const w of removed) {
            if (!w.job) continue;
            result.interrupted++;
            w.job.queuedSince = t;
            queue.unshift(w.job);
          }
          workers = workers.filter((w) => !removed.includes(w));
        }
      }
      if (sim.saveHistory) history = recordTick(history, d, to, sim.policy.scaleDownStabilizationMs);
    }
    result.workerSeconds += workers.length;
    result.peakWorkers = Math.max(result.peakWorkers, workers.length);
  }
  const waits = jobs.map((j) => j.maxWaitMs).sort((a, b) => a - b);
  result.maxWaitMs = waits.at(-1) ?? 0;
  result.p95WaitMs = waits[Math.floor(0.95 * (waits.length - 1))] ?? 0;
  result.lateJobs = waits.filter((w) => w > latencyTargetMs).length;
  return result;
}

/** A small deterministic PRNG (mulberry32), so the trace is the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The synthetic trace: 30 minutes of bursts over a trickle, then an hour of
 * sawtooth load (arrivals ramp up for 4 minutes, stop for 1), then quiet.
 * Jobs take 5–15 s (10 s on average).
 */
export function syntheticTrace(seed = 7): Arrival[] {
  const rnd = prng(seed);
  const duration = () => 5_000 + Math.floor(rnd() * 10_001);
  const out: Arrival[] = [];
  const add = (at: number, n = 1) => {
    for (let i = 0; i < n; i++) out.push({ at, durationMs: duration() });
  };
  // Phase 1 (0–30 min): a trickle, and bursts of 60, 150, 40 and 90 jobs.
  for (let t = 0; t < 1_800_000; t += 30_000) add(t);
  add(60_000, 60);
  add(600_000, 150);
  add(1_080_000, 40);
  add(1_500_000, 90);
  // Phase 2 (30–90 min): sawtooth; 5-minute periods, the rate climbs 0 → 0.8 jobs/s over 4 minutes, then nothing for 1.
  let carry = 0;
  for (let t = 1_800_000; t < 5_400_000; t += 1_000) {
    const inPeriod = (t - 1_800_000) % 300_000;
    const rate = inPeriod < 240_000 ? (0.8 * inPeriod) / 240_000 : 0;
    carry += rate;
    while (carry >= 1) {
      add(t);
      carry -= 1;
    }
  }
  return out;
}
