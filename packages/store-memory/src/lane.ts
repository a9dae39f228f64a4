/**
 * The queued jobs of one priority in one queue, ordered by (run time, sequence).
 * Jobs almost always arrive in that order (run time = now, sequence rising), so
 * pushing is an append and taking is a read at the head: sequential memory,
 * no per-job allocation. Out-of-order arrivals are placed by binary search.
 *
 * Entries are never removed from the middle: a job that leaves the queue bumps
 * its `gen`, and the entry recorded with the old gen is skipped when reached.
 */
export interface LaneItem {
  gen: number;
  status: string;
}

export class Lane<T extends LaneItem> {
  private items: T[] = [];
  private gens: number[] = [];
  private runAts: number[] = [];
  private seqs: number[] = [];
  private head = 0;

  get isEmpty(): boolean {
    return this.peek() === undefined;
  }

  push(item: T, runAt: number, seq: number): void {
    const n = this.items.length;
    if (n === this.head || this.runAts[n - 1]! < runAt || (this.runAts[n - 1] === runAt && this.seqs[n - 1]! < seq)) {
      this.items.push(item);
      this.gens.push(item.gen);
      this.runAts.push(runAt);
      this.seqs.push(seq);
      return;
    }
    let lo = this.head;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.runAts[mid]! < runAt || (this.runAts[mid] === runAt && this.seqs[mid]! < seq)) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, item);
    this.gens.splice(lo, 0, item.gen);
    this.runAts.splice(lo, 0, runAt);
    this.seqs.splice(lo, 0, seq);
  }

  /** The first live entry, or undefined. Drops stale entries on the way. */
  peek(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head]!;
      if (this.gens[this.head] === item.gen && item.status === 'queued') return item;
      this.advance();
    }
    return undefined;
  }

  /** Run time recorded for the head entry (call after `peek` returned an item). */
  headRunAt(): number {
    return this.runAts[this.head]!;
  }

  headSeq(): number {
    return this.seqs[this.head]!;
  }

  /** Removes the head entry (call after `peek` returned an item). */
  shift(): void {
    this.advance();
  }

  /** Live entries' run times, for stats. */
  *liveRunAts(): Generator<number> {
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i]!;
      if (this.gens[i] === item.gen && item.status === 'queued') yield this.runAts[i]!;
    }
  }

  private advance(): void {
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.gens = [];
      this.runAts = [];
      this.seqs = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.items.length) {
      // Compact once the consumed prefix dominates, so memory follows the live size.
      this.items = this.items.slice(this.head);
      this.gens = this.gens.slice(this.head);
      this.runAts = this.runAts.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
  }
}
