import { InvalidArgumentError } from '@jqjobs/core';

/** The original JQJobs algorithms, kept by name. */
export type ScalingAlgorithm = 'linear' | 'halfLinear';

/** Every policy a queue can use: the original two, and the latency-aware one. */
export type ScalingPolicyName = ScalingAlgorithm | 'latencyTarget';

function assertCount(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`calculateScale: ${name} must be an integer ≥ 0, got ${String(value)}`);
  }
}

/**
 * The original autoscaler's arithmetic, exactly: `linear` = pending,
 * `halfLinear` = ⌊pending / 2⌋, capped at `maxConcurrency`, and at least 1
 * whenever `pending` ≥ 1 — even with `maxConcurrency: 0`, so pending work is
 * never left without a worker.
 *
 * @param pending queued + running jobs of the queue.
 * @throws InvalidArgumentError for an unknown algorithm or a count that is not an integer ≥ 0.
 * @example calculateScale('halfLinear', 7, 10) // 3
 */
export function calculateScale(algorithm: ScalingAlgorithm, pending: number, maxConcurrency: number): number {
  assertCount(pending, 'pending');
  assertCount(maxConcurrency, 'maxConcurrency');
  let n: number;
  if (algorithm === 'linear') n = pending;
  else if (algorithm === 'halfLinear') n = Math.floor(pending / 2);
  else throw new InvalidArgumentError(`calculateScale: unknown algorithm ${JSON.stringify(algorithm)} (expected 'linear' or 'halfLinear')`);
  n = Math.min(n, maxConcurrency);
  if (pending >= 1 && n < 1) n = 1;
  return n;
}

/** Inputs of `calculateLatencyScale`. Times in milliseconds. */
export interface LatencyScaleInput {
  queued: number;
  running: number;
  /** Age of the oldest due queued job; null when none is due. */
  oldestQueuedAgeMs: number | null;
  /** Workers now (booting ones included); null when unknown (then only the running jobs' workers are assumed). */
  current: number | null;
  maxConcurrency: number;
  /** The longest a job should wait between becoming due and starting. */
  latencyTargetMs: number;
  /** How long one job keeps a worker busy, on average. */
  averageJobMs: number;
  /** How long a worker already asked for may still take to boot. */
  startupMs: number;
  /**
   * How long before a worker asked for now takes a job: the polling interval,
   * the scaler's settle time and the boot time.
   */
  reactionMs: number;
}

/**
 * The `latencyTarget` policy: the fewest workers that still start every queued
 * job within the target, counting what the workers already there will do.
 *
 * With `A` the oldest queued job's age and `d` the average job time, the
 * workers already there have `T = target − A − startup` to start jobs: an idle
 * (or booting) one starts `1 + ⌊T/d⌋`, a busy one `⌊T/d⌋` after its current
 * job. If that covers the queued jobs, the answer is the fewest of them that
 * do (busy ones first); otherwise each added worker, ready after `reaction`,
 * starts `1 + ⌊(target − A − reaction)/d⌋`. A job already late counts one
 * worker per job, like `linear`. Capped at `maxConcurrency`, at least 1
 * whenever anything is pending.
 *
 * It gives every queued job the oldest one's age, which errs towards more
 * workers; job times longer than `averageJobSeconds` erode the margin.
 */
export function calculateLatencyScale(input: LatencyScaleInput): number {
  const { queued, running, maxConcurrency } = input;
  assertCount(queued, 'queued');
  assertCount(running, 'running');
  assertCount(maxConcurrency, 'maxConcurrency');
  const pending = queued + running;
  const d = input.averageJobMs;
  let n: number;
  if (queued === 0) {
    n = running;
  } else {
    const age = input.oldestQueuedAgeMs ?? 0;
    const existingT = input.latencyTargetMs - age - input.startupMs;
    const perFree = existingT > 0 ? 1 + Math.floor(existingT / d) : 1;
    const perBusy = existingT > 0 ? Math.floor(existingT / d) : 0;
    const workers = Math.max(input.current ?? running, running);
    const capacity = (workers - running) * perFree + running * perBusy;
    if (capacity >= queued) {
      n = running + Math.ceil(Math.max(0, queued - running * perBusy) / perFree);
    } else {
      const newT = input.latencyTargetMs - age - input.reactionMs;
      const perNew = newT > 0 ? 1 + Math.floor(newT / d) : 1;
      n = workers + Math.ceil((queued - capacity) / perNew);
    }
  }
  n = Math.min(n, maxConcurrency);
  if (pending >= 1 && n < 1) n = 1;
  return n;
}
