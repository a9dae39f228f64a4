import type { Logger, QueueStats, Store } from '@jqjobs/core';

/**
 * Throughput history for the dashboard chart.
 *
 * The Store contract has no history (completed jobs are usually deleted, and
 * stores do not broadcast events across processes), so the dashboard samples
 * `stats()` itself and keeps the last hour of samples in a fixed-size ring
 * buffer in its own process. History therefore starts when the dashboard starts
 * and is lost when it stops.
 *
 * From two samples the number of jobs that finished in between is not known
 * exactly — enqueues and deletions of completed jobs both happen unseen — so the
 * chart plots a lower bound: with P = unqueued+queued+running+wait_async and
 * F = completed+failed (jobs kept in the store),
 *   finished ≥ max(0, −(ΔP + ΔF)) + max(0, ΔF).
 * The first term counts jobs that left the store (completed and deleted), net of
 * jobs enqueued in the same interval; the second jobs that finished and stayed.
 * It is exact when nothing was enqueued or restarted during the interval, and
 * jobs deleted by an operator count as finished.
 */

/** One `stats()` sample, summed over all queues. */
export interface Sample {
  at: number;
  /** unqueued + queued + running + wait_async */
  pending: number;
  /** completed + failed */
  finished: number;
  queued: number;
}

/** One bar of the chart. */
export interface Bucket {
  /** Start of the bucket, epoch ms. */
  start: number;
  /** Lower bound of jobs finished in the bucket; null when no sample pair ended in it. */
  finished: number | null;
  /** Queued jobs at the bucket's last sample; null when none. */
  queued: number | null;
}

export function summarize(at: number, stats: readonly QueueStats[]): Sample {
  let pending = 0;
  let finished = 0;
  let queued = 0;
  for (const q of stats) {
    const c = q.counts;
    pending += c.unqueued + c.queued + c.running + c.wait_async;
    finished += c.completed + c.failed;
    queued += c.queued;
  }
  return { at, pending, finished, queued };
}

/** Lower bound of jobs finished between two samples (see the module comment). */
export function finishedBetween(a: Sample, b: Sample): number {
  const dp = b.pending - a.pending;
  const df = b.finished - a.finished;
  return Math.max(0, -(dp + df)) + Math.max(0, df);
}

/** A fixed-capacity ring of samples, oldest first. */
export class SampleRing {
  private readonly items: (Sample | undefined)[];
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError('capacity must be an integer ≥ 2');
    this.items = new Array<Sample | undefined>(capacity);
  }

  push(sample: Sample): void {
    this.items[this.next] = sample;
    this.next = (this.next + 1) % this.capacity;
    this.size = Math.min(this.size + 1, this.capacity);
  }

  toArray(): Sample[] {
    const out: Sample[] = [];
    const first = (this.next - this.size + this.capacity) % this.capacity;
    for (let i = 0; i < this.size; i++) out.push(this.items[(first + i) % this.capacity] as Sample);
    return out;
  }

  get length(): number {
    return this.size;
  }
}

/** The last `count` buckets of `bucketMs` ending at `now` (the last one contains `now`). */
export function bucketize(samples: readonly Sample[], now: number, bucketMs = 60_000, count = 60): Bucket[] {
  const end = Math.floor(now / bucketMs) * bucketMs + bucketMs;
  const first = end - count * bucketMs;
  const buckets: Bucket[] = [];
  for (let i = 0; i < count; i++) buckets.push({ start: first + i * bucketMs, finished: null, queued: null });
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] as Sample;
    const idx = Math.floor((s.at - first) / bucketMs);
    const bucket = buckets[idx];
    if (!bucket) continue;
    bucket.queued = s.queued;
    const prev = samples[i - 1];
    if (prev) bucket.finished = (bucket.finished ?? 0) + finishedBetween(prev, s);
  }
  return buckets;
}

/** Samples `store.stats()` every `intervalMs` into a ring holding `windowMs` of history. */
export class StatsSampler {
  readonly ring: SampleRing;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private lastError: string | null = null;

  constructor(
    private readonly store: Store,
    readonly intervalMs: number,
    private readonly logger: Logger,
    readonly windowMs = 3_600_000,
    private readonly now: () => number = Date.now,
  ) {
    this.ring = new SampleRing(Math.ceil(windowMs / intervalMs) + 2);
  }

  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    // The dashboard's HTTP server keeps the process alive; the sampler must not.
    this.timer.unref();
  }

  /** Takes one sample now (skipped when one is still running, e.g. against a slow database). */
  sample(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = (async () => {
      try {
        const stats = await this.store.stats();
        this.ring.push(summarize(this.now(), stats));
        this.lastError = null;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // Log once per outage rather than every interval.
        if (this.lastError !== message) this.logger.warn({ err }, 'dashboard: stats sample failed');
        this.lastError = message;
      } finally {
        this.inFlight = null;
      }
    })();
    return this.inFlight;
  }

  /** Time of the oldest sample still held, or null before the first one. */
  since(): number | null {
    return this.ring.toArray()[0]?.at ?? null;
  }

  buckets(bucketMs = 60_000, count = 60): Bucket[] {
    return bucketize(this.ring.toArray(), this.now(), bucketMs, count);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
  }
}
