import type { Clock } from '@jqjobs/core';

/** Heroku's per-account bucket: at most 4,500 tokens, refilled at about 75 a minute. */
export const HEROKU_BUCKET_SIZE = 4_500;
export const HEROKU_REFILL_PER_MS = 4_500 / 3_600_000;

/**
 * Keeps this process's calls from draining the account's Platform API budget.
 * Every answer's `RateLimit-Remaining` header resets the estimate; between
 * answers it refills at Heroku's rate and counts our own calls down. A call is
 * allowed only while the estimate stays above `reserve`, which is left for
 * deploys, the CLI and other tools sharing the account.
 */
export class RateBudget {
  private remaining: number | null = null;
  private at = 0;

  constructor(
    private readonly reserve: number,
    private readonly clock: Clock,
  ) {}

  /** The estimated tokens left now; null before the first answer. */
  estimate(): number | null {
    if (this.remaining === null) return null;
    const refilled = this.remaining + (this.clock.now() - this.at) * HEROKU_REFILL_PER_MS;
    return Math.min(HEROKU_BUCKET_SIZE, refilled);
  }

  /** Takes a token for a call; false (and nothing taken) when that would cross the reserve. */
  take(): boolean {
    const est = this.estimate();
    if (est === null) return true;
    if (est - 1 < this.reserve) return false;
    this.remaining = est - 1;
    this.at = this.clock.now();
    return true;
  }

  /** Records the `RateLimit-Remaining` header of an answer. */
  observe(header: string | string[] | undefined): void {
    const raw = Array.isArray(header) ? header[0] : header;
    if (raw === undefined) return;
    const n = Number.parseInt(raw, 10);
    if (!Number.isFinite(n) || n < 0) return;
    this.remaining = n;
    this.at = this.clock.now();
  }

  /** A 429: the bucket is empty now. */
  exhausted(): void {
    this.remaining = 0;
    this.at = this.clock.now();
  }

  /** Milliseconds until a call is allowed again (0 when it is now). */
  waitMs(): number {
    const est = this.estimate();
    if (est === null || est - 1 >= this.reserve) return 0;
    return Math.ceil((this.reserve + 1 - est) / HEROKU_REFILL_PER_MS);
  }
}
