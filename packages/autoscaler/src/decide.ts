import { calculateLatencyScale, calculateScale, type ScalingPolicyName } from './calculate-scale.ts';

/** A queue's resolved policy (what `AutoscalerOptions.queues[name]` becomes). Times in milliseconds. */
export interface QueuePolicy {
  algorithm: ScalingPolicyName;
  maxConcurrency: number;
  scaleDownMinJump: number;
  /** 0 = no stabilisation window (the original behaviour). */
  scaleDownStabilizationMs: number;
  /** Set for `latencyTarget`. */
  latencyTargetMs: number | null;
  /** Set for `latencyTarget`. */
  averageJobMs: number | null;
  workerStartupMs: number;
}

/** A queue's numbers from `store.stats()`. */
export interface QueueSnapshot {
  queued: number;
  running: number;
  oldestQueuedAgeMs: number | null;
}

/** Everything one decision depends on besides the history and the time. */
export interface DecisionInputs {
  queue: string;
  policy: QueuePolicy;
  /** null = unknown (the store could not be read). */
  stats: QueueSnapshot | null;
  /** null = unknown (the provider could not be read). */
  current: number | null;
  /** The queue's scaler's settle time, already raised to at least 5 s. */
  settleMs: number;
  pollingIntervalMs: number;
  /** False when the driver never lowers capacity for this queue. */
  canScaleDown: boolean;
}

/** What the autoscaler remembers about a queue between ticks. Immutable; `recordTick` returns a new one. */
export interface QueueHistory {
  /** When the last applied scale-down (to 0 included) happened; null when none. */
  readonly lastScaleDownAt: number | null;
  /** When the last applied scale-up happened; null when none. */
  readonly lastScaleUpAt: number | null;
  /** Recent recommendations, oldest first, kept for the stabilisation window. */
  readonly recent: ReadonlyArray<{ readonly at: number; readonly desired: number }>;
  /** Applied changes so far. */
  readonly scaleEvents: number;
}

/** A history with nothing in it. */
export const EMPTY_HISTORY: QueueHistory = Object.freeze({ lastScaleDownAt: null, lastScaleUpAt: null, recent: Object.freeze([]), scaleEvents: 0 });

/** Why the decision is what it is. */
export type DecisionReason =
  | 'scale-up'
  | 'scale-down'
  | 'scale-to-zero'
  | 'at-target'
  | 'settling'
  | 'below-min-jump'
  | 'stabilizing'
  | 'scale-down-unsupported'
  | 'unknown-stats'
  | 'unknown-workers';

/** The decision for one queue at one tick: the original's WILL/WONT line, structured. */
export interface Decision {
  queue: string;
  /** Epoch ms. */
  at: number;
  action: 'scale-up' | 'scale-down' | 'none';
  reason: DecisionReason;
  /** The WILL/WONT line. */
  message: string;
  /** Workers now (null = unknown). */
  from: number | null;
  /** Workers to ask for; null when the action is `none`. */
  to: number | null;
  /** What the policy asks for from the queue's numbers alone (null when the stats are unknown). */
  desired: number | null;
  /** `desired` after the stabilisation window (the highest recommendation in it). */
  target: number | null;
  inputs: {
    algorithm: ScalingPolicyName;
    queued: number | null;
    running: number | null;
    pending: number | null;
    oldestQueuedAgeMs: number | null;
    current: number | null;
    maxConcurrency: number;
  };
  gates: {
    /** A scale-down is still settling. */
    settling: boolean;
    settleMs: number;
    settleRemainingMs: number;
    scaleDownMinJump: number;
    /** current − target when that is a drop, else null. */
    drop: number | null;
    scaleDownStabilizationMs: number;
    canScaleDown: boolean;
  };
}

/** What the policy asks for from a queue's numbers alone, before any gate. */
export function desiredWorkers(inputs: Pick<DecisionInputs, 'policy' | 'settleMs' | 'pollingIntervalMs' | 'current'>, stats: QueueSnapshot): number {
  const { policy } = inputs;
  if (policy.algorithm === 'latencyTarget') {
    return calculateLatencyScale({
      queued: stats.queued,
      running: stats.running,
      oldestQueuedAgeMs: stats.oldestQueuedAgeMs,
      current: inputs.current,
      maxConcurrency: policy.maxConcurrency,
      latencyTargetMs: policy.latencyTargetMs ?? 0,
      averageJobMs: policy.averageJobMs ?? 1,
      startupMs: policy.workerStartupMs,
      reactionMs: inputs.pollingIntervalMs + inputs.settleMs + policy.workerStartupMs,
    });
  }
  return calculateScale(policy.algorithm, stats.queued + stats.running, policy.maxConcurrency);
}

/**
 * The autoscaler's decision for one queue: a pure function of the queue's
 * history, this tick's inputs and the time. The gates, in order:
 *
 * 1. unknown stats or an unknown worker count → no change (unknown is never zero);
 * 2. at the target → no change;
 * 3. scale up at once, unless a scale-down is settling;
 * 4. a drop: not when the driver cannot scale down; the target is the highest
 *    recommendation within the stabilisation window (when one is set); scale to 0
 *    at once; any other drop only when nothing is settling and the drop is at
 *    least `scaleDownMinJump` (≥, as the original coded it).
 */
export function decide(history: QueueHistory, inputs: DecisionInputs, now: number): Decision {
  const { queue, policy, stats, current } = inputs;
  const lastDown = history.lastScaleDownAt;
  const settleRemainingMs = lastDown === null ? 0 : Math.max(0, lastDown + inputs.settleMs - now);
  const settling = settleRemainingMs > 0;
  const pending = stats ? stats.queued + stats.running : null;
  const desired = stats ? desiredWorkers(inputs, stats) : null;

  let target = desired;
  if (desired !== null && current !== null && desired < current && policy.scaleDownStabilizationMs > 0) {
    const since = now - policy.scaleDownStabilizationMs;
    for (const r of history.recent) if (r.at > since && r.desired > (target ?? 0)) target = r.desired;
  }
  const drop = target !== null && current !== null && target < current ? current - target : null;

  const base = {
    queue,
    at: now,
    from: current,
    desired,
    target,
    inputs: {
      algorithm: policy.algorithm,
      queued: stats?.queued ?? null,
      running: stats?.running ?? null,
      pending,
      oldestQueuedAgeMs: stats?.oldestQueuedAgeMs ?? null,
      current,
      maxConcurrency: policy.maxConcurrency,
    },
    gates: {
      settling,
      settleMs: inputs.settleMs,
      settleRemainingMs,
      scaleDownMinJump: policy.scaleDownMinJump,
      drop,
      scaleDownStabilizationMs: policy.scaleDownStabilizationMs,
      canScaleDown: inputs.canScaleDown,
    },
  };
  const none = (reason: DecisionReason, why: string): Decision => ({ ...base, action: 'none', to: null, reason, message: `WONT scale ${queue}: ${why}` });
  const will = (action: 'scale-up' | 'scale-down', reason: DecisionReason, to: number): Decision => ({
    ...base,
    action,
    to,
    reason,
    message: `WILL scale ${queue} from ${current} to ${to} (pending ${pending}, ${policy.algorithm})`,
  });
  const secs = (ms: number) => `${Math.ceil(ms / 1000)}s`;

  if (stats === null || desired === null || target === null || pending === null) return none('unknown-stats', 'the queue stats are unknown (the store could not be read)');
  if (current === null) return none('unknown-workers', `the current worker count is unknown (the provider could not be read); wanted ${desired}`);
  if (desired === current) return none('at-target', `already at ${current} workers (pending ${pending})`);
  if (desired > current) {
    if (settling) return none('settling', `would scale up ${current} → ${desired}, but a scale-down is settling for ${secs(settleRemainingMs)} more`);
    return will('scale-up', 'scale-up', desired);
  }
  if (!inputs.canScaleDown) return none('scale-down-unsupported', `would scale down ${current} → ${desired}, but the driver does not scale down`);
  if (target >= current) {
    return none('stabilizing', `would scale down ${current} → ${desired}, but ${target} was recommended within the last ${secs(policy.scaleDownStabilizationMs)}`);
  }
  if (target === 0) return will('scale-down', 'scale-to-zero', 0);
  if (settling) return none('settling', `would scale down ${current} → ${target}, but a scale-down is settling for ${secs(settleRemainingMs)} more`);
  if (drop !== null && drop < policy.scaleDownMinJump) {
    return none('below-min-jump', `would scale down ${current} → ${target}, but the drop ${drop} is below scaleDownMinJump ${policy.scaleDownMinJump}`);
  }
  return will('scale-down', 'scale-down', target);
}

/**
 * The history after a tick: remembers the recommendation (for the stabilisation
 * window) and, when a change was applied, when it happened. `applied` is the
 * total the provider was asked for, or null when nothing changed (no action, a
 * failed write, or a driver that found nothing to do).
 */
export function recordTick(history: QueueHistory, decision: Decision, applied: number | null, windowMs: number): QueueHistory {
  const now = decision.at;
  const recent =
    decision.desired === null
      ? history.recent.filter((r) => r.at > now - windowMs)
      : [...history.recent.filter((r) => r.at > now - windowMs), { at: now, desired: decision.desired }];
  // Without a window the list only needs the latest entry, so it never grows.
  const kept = windowMs > 0 ? recent : recent.slice(-1);
  if (applied === null || decision.from === null || applied === decision.from) {
    return { ...history, recent: kept };
  }
  return {
    lastScaleDownAt: applied < decision.from ? now : history.lastScaleDownAt,
    lastScaleUpAt: applied > decision.from ? now : history.lastScaleUpAt,
    recent: kept,
    scaleEvents: history.scaleEvents + 1,
  };
}
