/**
 * Jobs a store has claimed for this process through a hand-off (a job given to an
 * idle worker inside the enqueue that made it due), kept until the worker's next
 * `claim()` takes them. For store authors: the PostgreSQL and Redis stores share it.
 * A store sweeps out what waits too long (`takeStale`) and gives it back to the queue.
 */
export class HandoffStash<T> {
  private items: { item: T; at: number }[] = [];

  /** `queueOf` names the queue of a stashed item, for matching a claim's queues. */
  constructor(private readonly queueOf: (item: T) => string) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T, at: number = Date.now()): void {
    this.items.push({ item, at });
  }

  /** True when an item matches `queues` (null = every queue). */
  has(queues: readonly string[] | null): boolean {
    return this.items.some((s) => queues === null || queues.includes(this.queueOf(s.item)));
  }

  /** Removes and returns up to `limit` items for `queues`, oldest first. */
  take(queues: readonly string[] | null, limit: number): T[] {
    return this.remove((s, taken) => taken < limit && (queues === null || queues.includes(this.queueOf(s.item))));
  }

  /** Removes and returns the items stashed at or before `before` (epoch ms). */
  takeStale(before: number): T[] {
    return this.remove((s) => s.at <= before);
  }

  /** Removes and returns every item. */
  takeAll(): T[] {
    return this.items.splice(0).map((s) => s.item);
  }

  private remove(match: (s: { item: T; at: number }, taken: number) => boolean): T[] {
    if (this.items.length === 0) return [];
    const out: T[] = [];
    this.items = this.items.filter((s) => {
      if (!match(s, out.length)) return true;
      out.push(s.item);
      return false;
    });
    return out;
  }
}
