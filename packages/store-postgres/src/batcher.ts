/**
 * Groups calls that arrive together (in one turn of the event loop, or while
 * earlier batches are in flight) into one database statement: one round trip and
 * one commit for many jobs.
 */
interface Entry<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export interface BatcherOptions<I, R> {
  /** Statements in flight at once; calls beyond wait and join the next batch. */
  maxInFlight: number;
  /** Spread waiting items over the free statement slots (else fill one statement first). @default false */
  split?: boolean;
  /** Items per statement. */
  maxItems: number;
  /**
   * Items with different non-null keys never share a batch (e.g. claims for
   * different queues); null-keyed items join any batch.
   */
  key?: (item: I) => string | null;
  /** Runs one batch; resolves with one result per item, in order. */
  run: (items: I[]) => Promise<R[]>;
}

export class Batcher<I, R> {
  private queue: Entry<I, R>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private idle: (() => void)[] = [];

  constructor(private readonly options: BatcherOptions<I, R>) {}

  push(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled && this.inFlight < this.options.maxInFlight) {
        this.scheduled = true;
        const run = () => {
          this.scheduled = false;
          this.flush();
        };
        // A microtask still collects every call made in this turn (calls running the
        // same code path reach push() in the same round of microtasks) without
        // adding an event-loop turn to each statement's latency.
        queueMicrotask(run);
      }
    });
  }

  /** Resolves once nothing is queued or in flight. */
  drained(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private flush(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      // With `split`, spread what is waiting over the free statement slots so the
      // statements run in parallel; without it (the default), fill one statement
      // first: fewer, bigger statements cost less CPU per job on a busy host.
      const share = this.options.split === true ? Math.ceil(this.queue.length / (this.options.maxInFlight - this.inFlight)) : this.queue.length;
      const batch = this.take(share);
      this.inFlight++;
      void this.execute(batch);
    }
  }

  private take(share: number): Entry<I, R>[] {
    const { key } = this.options;
    const maxItems = Math.min(this.options.maxItems, share);
    if (!key) return this.queue.splice(0, maxItems);
    let k: string | null = null;
    const batch: Entry<I, R>[] = [];
    const rest: Entry<I, R>[] = [];
    for (const e of this.queue) {
      if (batch.length >= maxItems) {
        rest.push(e);
        continue;
      }
      const ek = key(e.item);
      if (ek === null || k === null || ek === k) {
        if (ek !== null) k = ek;
        batch.push(e);
      } else {
        rest.push(e);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async execute(batch: Entry<I, R>[]): Promise<void> {
    try {
      const results = await this.options.run(batch.map((e) => e.item));
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i] as R);
    } catch (err) {
      for (const e of batch) e.reject(err);
    } finally {
      this.inFlight--;
      if (this.queue.length > 0) this.flush();
      else if (this.inFlight === 0) for (const r of this.idle.splice(0)) r();
    }
  }
}
