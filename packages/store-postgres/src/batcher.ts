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
        // setImmediate lets every call made in this turn join the batch.
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
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
      const batch = this.take();
      this.inFlight++;
      void this.execute(batch);
    }
  }

  private take(): Entry<I, R>[] {
    const { key, maxItems } = this.options;
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
