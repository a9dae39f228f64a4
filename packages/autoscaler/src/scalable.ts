/**
 * The contract between the autoscaler and a cloud driver.
 *
 * A driver sizes one pool of workers per queue (a Heroku process type, an AWS
 * Auto Scaling group, …). The autoscaler calls it once per tick and per queue:
 * `prepareTick` (optional), then `countCurrentWorkersForQueue`, then — only
 * when it decided to change something — `setCurrentWorkersForQueue` (or the
 * batched `setCurrentWorkersForQueues`).
 *
 * Rules a driver follows:
 * - **Unknown is never zero.** When the provider cannot be read, `count…` throws
 *   (a `ScalerUnavailableError` for a retryable failure, `ScalerFatalError` for
 *   one that retrying will not fix); it never returns 0 or a stale guess. The
 *   autoscaler then changes nothing for that queue.
 * - Counts are absolute and the write is absolute: `set…(n)` asks the provider
 *   for n workers in total.
 * - Errors are thrown, never swallowed; the autoscaler logs them, disables the
 *   queue on a `ScalerFatalError`, and carries on with the other queues.
 * - A driver does not retry on its own in the background: a re-sent write can
 *   land after a newer decision and undo it. The next tick is the retry.
 */
export interface Scalable {
  /**
   * How many workers the queue has now (booting ones included where the
   * provider counts them). An integer ≥ 0.
   * @throws ScalerUnavailableError | ScalerFatalError — never a guess.
   */
  countCurrentWorkersForQueue(queue: string): Promise<number>;

  /**
   * Asks the provider for `count` workers for the queue. Resolves when the
   * provider accepted (or the driver decided no write was needed); may report
   * what it actually asked for, e.g. after clamping to a group's MaxSize.
   * @throws InvalidArgumentError for a count that is not an integer ≥ 0 (nothing is written).
   */
  setCurrentWorkersForQueue(count: number, queue: string): Promise<ScaleOutcome | void>;

  /**
   * Seconds a scale-down of this queue takes to settle at the provider. While
   * the last scale-down is younger than this (and never less than 5 s) the
   * autoscaler neither scales up nor further down (to 0 excepted).
   */
  minSecondsToProcessDownScale(queue?: string): number;

  /**
   * Optional. Called once per tick, before any count, with the queues about to
   * be counted, so a driver can read the provider once (one Heroku formation
   * list per app, one DescribeAutoScalingGroups per group) and answer the
   * counts from that snapshot. Errors are kept for the counts to throw.
   */
  prepareTick?(queues: readonly string[]): Promise<void>;

  /**
   * Optional. Applies several queues' counts in as few calls as the provider
   * allows. Resolves with one result per update, in any order; a failure of one
   * queue is a result, not a rejection.
   */
  setCurrentWorkersForQueues?(updates: readonly ScaleUpdate[]): Promise<ScaleResult[]>;

  /**
   * Optional. False when the driver never lowers capacity for this queue (the
   * AWS driver by default: idle instances retire themselves). The autoscaler
   * then records scale-downs as "not supported" instead of asking.
   * @default true
   */
  canScaleDown?(queue: string): boolean;

  /** Optional. False for a queue the driver does not route; the autoscaler checks its queues at construction. */
  handlesQueue?(queue: string): boolean;
}

/** One queue's new count, for `setCurrentWorkersForQueues`. */
export interface ScaleUpdate {
  queue: string;
  count: number;
}

/** What a driver did with a set. */
export interface ScaleOutcome {
  /** The total the provider was asked for (after clamping), or the unchanged total when no write was needed. */
  count: number;
  /** False when no write was made (already at that size, or clamping left nothing to change). */
  changed: boolean;
  /** Why the count differs from the one asked for, e.g. `clamped to MaxSize 10`. */
  note?: string;
}

/** One result of `setCurrentWorkersForQueues`. */
export type ScaleResult = ({ queue: string; ok: true } & ScaleOutcome) | { queue: string; ok: false; error: unknown };
