import { InvalidArgumentError } from '@jqjobs/core';
import type { Scalable, ScaleOutcome } from './scalable.ts';
import { assertQueueName, assertWorkerCount, isPlainObject } from './validate.ts';

/** Options for `NoopScaler`. */
export interface NoopScalerOptions {
  /** Counts reported before the first set, per queue. @default 0 for every queue */
  initial?: Record<string, number>;
  /** Settle time it reports (the autoscaler uses at least 5 s). @default 0 */
  minSecondsToProcessDownScale?: number;
}

/** One set a `NoopScaler` received. */
export interface NoopScaleCall {
  queue: string;
  count: number;
}

/**
 * A scaler that scales nothing: it records every count it is set to and reports
 * the last one. For dry runs (watch the decisions in the logs before pointing
 * the autoscaler at a cloud) and for tests.
 */
export class NoopScaler implements Scalable {
  /** Every set, in order. */
  readonly calls: NoopScaleCall[] = [];
  private readonly counts = new Map<string, number>();
  private readonly settleSeconds: number;

  constructor(options: NoopScalerOptions = {}) {
    if (!isPlainObject(options)) throw new InvalidArgumentError('NoopScaler: options must be an object');
    const initial = options.initial ?? {};
    if (!isPlainObject(initial)) throw new InvalidArgumentError('NoopScaler: initial must be an object of queue name → count');
    const settle = options.minSecondsToProcessDownScale ?? 0;
    if (typeof settle !== 'number' || !Number.isFinite(settle) || settle < 0) {
      throw new InvalidArgumentError(`NoopScaler: minSecondsToProcessDownScale must be a number ≥ 0, got ${String(settle)}`);
    }
    for (const [queue, count] of Object.entries(initial)) {
      assertQueueName(queue, 'NoopScaler: initial');
      assertWorkerCount(count, `NoopScaler: initial.${queue}`);
      this.counts.set(queue, count);
    }
    this.settleSeconds = settle;
  }

  async countCurrentWorkersForQueue(queue: string): Promise<number> {
    assertQueueName(queue, 'NoopScaler.countCurrentWorkersForQueue');
    return this.counts.get(queue) ?? 0;
  }

  async setCurrentWorkersForQueue(count: number, queue: string): Promise<ScaleOutcome> {
    assertWorkerCount(count, 'NoopScaler.setCurrentWorkersForQueue');
    assertQueueName(queue, 'NoopScaler.setCurrentWorkersForQueue');
    const changed = (this.counts.get(queue) ?? 0) !== count;
    this.counts.set(queue, count);
    this.calls.push({ queue, count });
    return { count, changed };
  }

  minSecondsToProcessDownScale(): number {
    return this.settleSeconds;
  }
}
