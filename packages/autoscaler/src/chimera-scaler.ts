import { InvalidArgumentError } from '@jqjobs/core';
import { UnknownQueueError } from './errors.ts';
import type { Scalable, ScaleOutcome, ScaleResult, ScaleUpdate } from './scalable.ts';
import { assertQueueName, isPlainObject } from './validate.ts';

function isScalable(value: unknown): value is Scalable {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  return (
    typeof s.countCurrentWorkersForQueue === 'function' &&
    typeof s.setCurrentWorkersForQueue === 'function' &&
    typeof s.minSecondsToProcessDownScale === 'function'
  );
}

/**
 * Routes each queue to its own scaler: `new ChimeraScaler({ email: heroku,
 * video: aws })`. Each queue keeps its scaler's settle time. Per-tick reads and
 * batched writes are grouped per scaler, so two queues on one Heroku app still
 * cost one formation read and one update per tick, and a failing scaler only
 * fails its own queues.
 */
export class ChimeraScaler implements Scalable {
  private readonly routes: ReadonlyMap<string, Scalable>;

  /**
   * @throws InvalidArgumentError for an empty map, a bad queue name, or a value that is not a scaler.
   */
  constructor(scalers: Record<string, Scalable>) {
    if (!isPlainObject(scalers)) throw new InvalidArgumentError('ChimeraScaler: expected an object of queue name → scaler');
    const entries = Object.entries(scalers);
    if (entries.length === 0) throw new InvalidArgumentError('ChimeraScaler: the map of queue name → scaler is empty');
    const routes = new Map<string, Scalable>();
    for (const [queue, scaler] of entries) {
      assertQueueName(queue, 'ChimeraScaler');
      if (!isScalable(scaler)) {
        throw new InvalidArgumentError(
          `ChimeraScaler: the scaler for queue ${JSON.stringify(queue)} does not implement Scalable (countCurrentWorkersForQueue, setCurrentWorkersForQueue, minSecondsToProcessDownScale)`,
        );
      }
      routes.set(queue, scaler);
    }
    this.routes = routes;
  }

  /** The queues this scaler routes. */
  get queues(): string[] {
    return [...this.routes.keys()];
  }

  handlesQueue(queue: string): boolean {
    return this.routes.has(queue);
  }

  /** The scaler for a queue. @throws UnknownQueueError */
  scalerFor(queue: string): Scalable {
    assertQueueName(queue, 'ChimeraScaler');
    const s = this.routes.get(queue);
    if (!s) throw new UnknownQueueError(queue, `this ChimeraScaler (it routes ${this.queues.map((q) => JSON.stringify(q)).join(', ')})`);
    return s;
  }

  async countCurrentWorkersForQueue(queue: string): Promise<number> {
    return this.scalerFor(queue).countCurrentWorkersForQueue(queue);
  }

  async setCurrentWorkersForQueue(count: number, queue: string): Promise<ScaleOutcome | void> {
    return this.scalerFor(queue).setCurrentWorkersForQueue(count, queue);
  }

  minSecondsToProcessDownScale(queue?: string): number {
    if (queue === undefined) {
      // Without a queue there is no single answer; the longest is the safe one.
      return Math.max(...[...new Set(this.routes.values())].map((s) => s.minSecondsToProcessDownScale()));
    }
    return this.scalerFor(queue).minSecondsToProcessDownScale(queue);
  }

  canScaleDown(queue: string): boolean {
    const s = this.scalerFor(queue);
    return s.canScaleDown ? s.canScaleDown(queue) : true;
  }

  async prepareTick(queues: readonly string[]): Promise<void> {
    const groups = this.group(queues.map((queue) => ({ queue })));
    const failures: unknown[] = [];
    await Promise.all(
      [...groups].map(async ([scaler, items]) => {
        if (!scaler.prepareTick) return;
        try {
          await scaler.prepareTick(items.map((i) => i.queue));
        } catch (err) {
          failures.push(err);
        }
      }),
    );
    if (failures.length > 0) throw new AggregateError(failures, `ChimeraScaler: ${failures.length} scaler(s) failed to prepare the tick`);
  }

  async setCurrentWorkersForQueues(updates: readonly ScaleUpdate[]): Promise<ScaleResult[]> {
    for (const u of updates) this.scalerFor(u.queue);
    const results: ScaleResult[] = [];
    await Promise.all(
      [...this.group(updates)].map(async ([scaler, items]) => {
        if (scaler.setCurrentWorkersForQueues) {
          try {
            results.push(...(await scaler.setCurrentWorkersForQueues(items)));
          } catch (error) {
            for (const u of items) results.push({ queue: u.queue, ok: false, error });
          }
          return;
        }
        await Promise.all(
          items.map(async (u) => {
            try {
              const out = await scaler.setCurrentWorkersForQueue(u.count, u.queue);
              results.push({ queue: u.queue, ok: true, ...(out ?? { count: u.count, changed: true }) });
            } catch (error) {
              results.push({ queue: u.queue, ok: false, error });
            }
          }),
        );
      }),
    );
    return results;
  }

  private group<T extends { queue: string }>(items: readonly T[]): Map<Scalable, T[]> {
    const groups = new Map<Scalable, T[]>();
    for (const item of items) {
      const s = this.routes.get(item.queue);
      if (!s) continue;
      const list = groups.get(s) ?? [];
      list.push(item);
      groups.set(s, list);
    }
    return groups;
  }
}
