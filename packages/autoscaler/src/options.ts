import type { Clock, Logger, LogLevel } from '@jqjobs/core';
import type { ScalingPolicyName } from './calculate-scale.ts';
import type { QueuePolicy } from './decide.ts';
import { InvalidAutoscalerConfigError } from './errors.ts';
import type { AutoscalerLease } from './lease.ts';
import { LEASE_QUEUE } from './lease.ts';
import { isPlainObject, queueNameProblem } from './validate.ts';

/** How one queue is scaled. */
export interface QueueScalingOptions {
  /**
   * `linear` (one worker per pending job), `halfLinear` (one per two), or
   * `latencyTarget` (the fewest workers that start every job within
   * `latencyTargetSeconds`; needs `averageJobSeconds`).
   * @default 'linear'
   */
  scalingAlgorithm?: ScalingPolicyName;
  /** Most workers the queue gets (an integer ≥ 0). Pending work always gets at least 1. */
  maxConcurrency: number;
  /** Smallest drop worth a scale-down (scale to 0 is always allowed). A drop equal to it scales. @default 20 */
  scaleDownMinJump?: number;
  /**
   * Scale down only to the highest count recommended within this many seconds,
   * so a sawtooth load does not flap the pool. Also delays scale to 0. 0 = off
   * (the original behaviour).
   * @default 0
   */
  scaleDownStabilizationSeconds?: number;
  /** `latencyTarget` only: the longest a due job should wait before it starts, in seconds. */
  latencyTargetSeconds?: number;
  /** `latencyTarget` only: how long a job keeps a worker busy on average, in seconds. */
  averageJobSeconds?: number;
  /** `latencyTarget` only: how long a new worker takes to boot and take jobs, in seconds. @default 0 */
  workerStartupSeconds?: number;
}

/** Options of `new Autoscaler(store, scalable, options)`. */
export interface AutoscalerOptions {
  /** The queues to scale, by name. At least one. */
  queues: Record<string, QueueScalingOptions>;
  /** Seconds between ticks. @default 5 */
  pollingIntervalSeconds?: number;
  /** Seconds between `store.detectHungJobs()` runs, on their own timer; 0 = off. @default 10 */
  detectHungJobsEverySeconds?: number;
  /** A pino-compatible logger or a level name. Decisions that change something log at `info`, the others at `debug`. @default 'warn' */
  logger?: Logger | LogLevel;
  /** Source of time for decisions and history. @default systemClock */
  clock?: Clock;
  /**
   * Who may be the active autoscaler. `null` = always active (you run exactly one).
   * @default a `StoreLease` on the store
   */
  lease?: AutoscalerLease | null;
  /** TTL asked of the lease on every tick. @default max(30, 3 × pollingIntervalSeconds) */
  leaseTtlSeconds?: number;
  /** This instance's id, as the lease owner and in logs. @default host:pid:random */
  id?: string;
}

/** `AutoscalerOptions` after validation and defaults. Times in milliseconds. */
export interface ResolvedAutoscalerOptions {
  queues: ReadonlyMap<string, QueuePolicy>;
  pollingIntervalMs: number;
  detectHungJobsEveryMs: number;
  leaseTtlMs: number;
}

const QUEUE_KEYS = new Set([
  'scalingAlgorithm',
  'maxConcurrency',
  'scaleDownMinJump',
  'scaleDownStabilizationSeconds',
  'latencyTargetSeconds',
  'averageJobSeconds',
  'workerStartupSeconds',
]);
const TOP_KEYS = new Set(['queues', 'pollingIntervalSeconds', 'detectHungJobsEverySeconds', 'logger', 'clock', 'lease', 'leaseTtlSeconds', 'id']);
const ALGORITHMS: readonly ScalingPolicyName[] = ['linear', 'halfLinear', 'latencyTarget'];

function bad(path: string, message: string): never {
  throw new InvalidAutoscalerConfigError(path, message);
}

function seconds(value: unknown, path: string, { positive }: { positive: boolean }): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    bad(path, `expected a number of seconds ${positive ? '> 0' : '≥ 0'}, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

function integer(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    bad(path, `expected an integer ≥ 0, got ${JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

function unknownKeys(obj: Record<string, unknown>, allowed: Set<string>, path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) bad(path ? `${path}.${key}` : key, `unknown option (allowed: ${[...allowed].join(', ')})`);
  }
}

/** Validates one queue's options and applies the defaults. */
export function resolveQueuePolicy(queue: string, raw: unknown): QueuePolicy {
  const path = `queues.${queue}`;
  if (!isPlainObject(raw)) bad(path, 'expected an object like { scalingAlgorithm, maxConcurrency }');
  unknownKeys(raw, QUEUE_KEYS, path);
  const algorithm = raw.scalingAlgorithm ?? 'linear';
  if (typeof algorithm !== 'string' || !ALGORITHMS.includes(algorithm as ScalingPolicyName)) {
    bad(`${path}.scalingAlgorithm`, `expected one of ${ALGORITHMS.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(algorithm)}`);
  }
  if (raw.maxConcurrency === undefined) bad(`${path}.maxConcurrency`, 'is required (an integer ≥ 0)');
  const policy: QueuePolicy = {
    algorithm: algorithm as ScalingPolicyName,
    maxConcurrency: integer(raw.maxConcurrency, `${path}.maxConcurrency`),
    scaleDownMinJump: integer(raw.scaleDownMinJump ?? 20, `${path}.scaleDownMinJump`),
    scaleDownStabilizationMs: seconds(raw.scaleDownStabilizationSeconds ?? 0, `${path}.scaleDownStabilizationSeconds`, { positive: false }) * 1000,
    latencyTargetMs: null,
    averageJobMs: null,
    workerStartupMs: seconds(raw.workerStartupSeconds ?? 0, `${path}.workerStartupSeconds`, { positive: false }) * 1000,
  };
  if (policy.algorithm === 'latencyTarget') {
    if (raw.latencyTargetSeconds === undefined) bad(`${path}.latencyTargetSeconds`, "is required with scalingAlgorithm 'latencyTarget'");
    if (raw.averageJobSeconds === undefined) bad(`${path}.averageJobSeconds`, "is required with scalingAlgorithm 'latencyTarget'");
    policy.latencyTargetMs = seconds(raw.latencyTargetSeconds, `${path}.latencyTargetSeconds`, { positive: true }) * 1000;
    policy.averageJobMs = seconds(raw.averageJobSeconds, `${path}.averageJobSeconds`, { positive: true }) * 1000;
  } else {
    for (const key of ['latencyTargetSeconds', 'averageJobSeconds', 'workerStartupSeconds'] as const) {
      if (raw[key] !== undefined) bad(`${path}.${key}`, "only applies to scalingAlgorithm 'latencyTarget'");
    }
  }
  return policy;
}

/**
 * Validates `AutoscalerOptions` (every number, every queue name, no unknown
 * keys) and applies the defaults.
 * @throws InvalidAutoscalerConfigError
 */
export function resolveAutoscalerOptions(options: unknown): ResolvedAutoscalerOptions {
  if (!isPlainObject(options)) bad('options', 'expected an object with at least { queues }');
  unknownKeys(options, TOP_KEYS, '');
  if (!isPlainObject(options.queues)) bad('queues', 'expected an object of queue name → { scalingAlgorithm, maxConcurrency }');
  const entries = Object.entries(options.queues);
  if (entries.length === 0) bad('queues', 'names no queue; give at least one');
  const queues = new Map<string, QueuePolicy>();
  for (const [name, raw] of entries) {
    const problem = queueNameProblem(name);
    if (problem) bad(`queues[${JSON.stringify(name)}]`, problem);
    if (name === LEASE_QUEUE) bad(`queues.${name}`, 'is reserved for the autoscaler lease');
    queues.set(name, resolveQueuePolicy(name, raw));
  }
  const pollingIntervalMs = seconds(options.pollingIntervalSeconds ?? 5, 'pollingIntervalSeconds', { positive: true }) * 1000;
  const detectHungJobsEveryMs = seconds(options.detectHungJobsEverySeconds ?? 10, 'detectHungJobsEverySeconds', { positive: false }) * 1000;
  const leaseTtlMs =
    options.leaseTtlSeconds === undefined
      ? Math.max(30_000, 3 * pollingIntervalMs)
      : seconds(options.leaseTtlSeconds, 'leaseTtlSeconds', { positive: true }) * 1000;
  if (options.id !== undefined && (typeof options.id !== 'string' || options.id.length === 0)) bad('id', 'expected a non-empty string');
  if (options.clock !== undefined && (options.clock === null || typeof (options.clock as { now?: unknown }).now !== 'function')) {
    bad('clock', 'expected an object with now(): number');
  }
  if (options.lease !== undefined && options.lease !== null) {
    const l = options.lease as Partial<AutoscalerLease>;
    if (typeof l.acquire !== 'function' || typeof l.release !== 'function') bad('lease', 'expected an AutoscalerLease { acquire, release } or null');
  }
  return { queues, pollingIntervalMs, detectHungJobsEveryMs, leaseTtlMs };
}
