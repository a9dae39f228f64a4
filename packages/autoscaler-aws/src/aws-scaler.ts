import { AutoScalingClient, DescribeAutoScalingGroupsCommand, SetDesiredCapacityCommand } from '@aws-sdk/client-auto-scaling';
import { type Clock, InvalidArgumentError, systemClock } from '@jqjobs/core';
import { queueNameProblem, type Scalable, ScalerError, ScalerFatalError, ScalerUnavailableError, type ScaleOutcome } from '@jqjobs/autoscaler';

/** The part of an `AutoScalingClient` this driver uses. */
export type AutoScalingClientLike = Pick<AutoScalingClient, 'send'>;

interface ScalerCommon {
  /** The Auto Scaling group this scaler sizes. Use one group per queue (a `ChimeraScaler` routes several). */
  groupName: string;
  /**
   * Let the autoscaler lower DesiredCapacity (never below MinSize). Off by
   * default: idle workers retire themselves (see the README), and lowering
   * DesiredCapacity makes AWS pick which instance to terminate, busy or not.
   * @default false
   */
  scaleDown?: boolean;
  /** Seconds a scale-down takes to settle. @default 60 */
  minSecondsToProcessDownScale?: number;
  /** Pass `HonorCooldown` to SetDesiredCapacity. @default false */
  honorCooldown?: boolean;
  /** Seconds a tick waits for AWS. The request is not re-sent; while unanswered, no second write goes out. @default 30 */
  requestTimeoutSeconds?: number;
  /** Time source for the read cache. @default systemClock */
  clock?: Clock;
}

/**
 * Options of `new AwsAutoScalingGroupScaler(...)`: a region (the driver builds
 * an `AutoScalingClient` with the default credential chain and `maxAttempts: 1`
 * — the next tick is the retry), or your own client (e.g. with `endpoint`).
 */
export type AwsAutoScalingGroupScalerOptions = ScalerCommon & ({ region: string; client?: never } | { client: AutoScalingClientLike; region?: never });

/** What a DescribeAutoScalingGroups read tells the driver. */
export interface GroupState {
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  /** Instances InService or Pending (Pending:Wait, Pending:Proceed included). */
  liveInstances: number;
}

/** Lifecycle states counted as workers: up, or coming up. Terminating, Standby, Detaching, Warmed:* … are not. */
export const LIVE_STATES: ReadonlySet<string> = new Set(['InService', 'Pending', 'Pending:Wait', 'Pending:Proceed']);

const FATAL = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'AuthFailure',
  'OptInRequired',
  'MissingAuthenticationToken',
]);

type Snapshot = { at: number; group: GroupState } | { at: number; error: ScalerError };

// A tick's counts and writes follow its prepareTick within milliseconds; anything older is re-read.
const SNAPSHOT_TTL_MS = 2_000;

/**
 * Sizes an AWS Auto Scaling group with `@aws-sdk/client-auto-scaling`:
 * DescribeAutoScalingGroups to count live instances (InService and Pending),
 * SetDesiredCapacity to grow it, clamped to MaxSize. Scales up only unless
 * `scaleDown: true`; it never lowers DesiredCapacity otherwise, whatever it is
 * asked. Throttling, ScalingActivityInProgress, ResourceContention, 5xx and
 * timeouts are `ScalerUnavailableError` (the next tick retries); access errors
 * and a missing group are `ScalerFatalError` (the autoscaler disables the queue).
 *
 * @example
 * const scaler = new AwsAutoScalingGroupScaler({ groupName: 'jq-workers-email', region: 'eu-west-1' });
 */
export class AwsAutoScalingGroupScaler implements Scalable {
  readonly groupName: string;
  private readonly client: AutoScalingClientLike;
  private readonly scaleDown: boolean;
  private readonly settleSeconds: number;
  private readonly honorCooldown: boolean;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private snapshot: Snapshot | null = null;
  private readInFlight = false;
  private writeInFlight = false;

  /** @throws InvalidArgumentError for a bad group name, region, client or number. */
  constructor(options: AwsAutoScalingGroupScalerOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('AwsAutoScalingGroupScaler: expected { groupName, region } or { groupName, client }');
    const { groupName, region, client } = options as ScalerCommon & { region?: unknown; client?: unknown };
    // eslint-disable-next-line no-control-regex
    if (typeof groupName !== 'string' || groupName.length === 0 || groupName.length > 255 || /[\u0000-\u001f\u007f]/.test(groupName)) {
      throw new InvalidArgumentError(`AwsAutoScalingGroupScaler: groupName must be 1–255 printable characters, got ${JSON.stringify(groupName)}`);
    }
    if ((region === undefined) === (client === undefined)) throw new InvalidArgumentError('AwsAutoScalingGroupScaler: give exactly one of region and client');
    if (region !== undefined && (typeof region !== 'string' || !/^[a-z0-9-]+$/.test(region))) {
      throw new InvalidArgumentError(`AwsAutoScalingGroupScaler: region must look like 'eu-west-1', got ${JSON.stringify(region)}`);
    }
    if (client !== undefined && (client === null || typeof (client as AutoScalingClientLike).send !== 'function')) {
      throw new InvalidArgumentError('AwsAutoScalingGroupScaler: client must be an AutoScalingClient');
    }
    const settle = options.minSecondsToProcessDownScale ?? 60;
    if (typeof settle !== 'number' || !Number.isFinite(settle) || settle < 0) throw new InvalidArgumentError('AwsAutoScalingGroupScaler: minSecondsToProcessDownScale must be a number ≥ 0');
    const timeout = options.requestTimeoutSeconds ?? 30;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) throw new InvalidArgumentError('AwsAutoScalingGroupScaler: requestTimeoutSeconds must be a number > 0');
    for (const key of ['scaleDown', 'honorCooldown'] as const) {
      if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new InvalidArgumentError(`AwsAutoScalingGroupScaler: ${key} must be a boolean`);
    }
    this.groupName = groupName;
    this.client = client === undefined ? new AutoScalingClient({ region: region as string, maxAttempts: 1 }) : (client as AutoScalingClientLike);
    this.scaleDown = options.scaleDown ?? false;
    this.settleSeconds = settle;
    this.honorCooldown = options.honorCooldown ?? false;
    this.timeoutMs = timeout * 1000;
    this.clock = options.clock ?? systemClock;
  }

  minSecondsToProcessDownScale(): number {
    return this.settleSeconds;
  }

  canScaleDown(): boolean {
    return this.scaleDown;
  }

  /** Describes the group once for the tick; a failure is kept for the count to report. */
  async prepareTick(): Promise<void> {
    await this.read();
  }

  /** The group's last known state, for logs and tests; null before a successful read. */
  lastState(): GroupState | null {
    return this.snapshot && 'group' in this.snapshot ? { ...this.snapshot.group } : null;
  }

  async countCurrentWorkersForQueue(queue: string): Promise<number> {
    this.assertQueue(queue);
    return (await this.group()).liveInstances;
  }

  /**
   * Raises DesiredCapacity to `count`, clamped to MaxSize; lowers it only with
   * `scaleDown` (and never below MinSize). No write when nothing would change.
   * @throws InvalidArgumentError for a count that is not an integer ≥ 0 (nothing is sent);
   *   ScalerUnavailableError / ScalerFatalError from AWS.
   */
  async setCurrentWorkersForQueue(count: number, queue: string): Promise<ScaleOutcome> {
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new InvalidArgumentError(`AwsAutoScalingGroupScaler: a capacity must be an integer ≥ 0, got ${String(count)}`);
    }
    this.assertQueue(queue);
    // Never write without knowing the group: an absolute write on a guess can lower capacity.
    const group = await this.group();
    let target = Math.min(count, group.maxSize);
    const notes: string[] = [];
    if (target < count) notes.push(`clamped to MaxSize ${group.maxSize}`);
    if (target < group.desiredCapacity && !this.scaleDown) {
      notes.push(`DesiredCapacity is ${group.desiredCapacity}; this scaler does not scale down`);
      return { count: group.desiredCapacity, changed: false, note: notes.join('; ') };
    }
    if (target < group.minSize) {
      target = group.minSize;
      notes.push(`raised to MinSize ${group.minSize}`);
    }
    if (target === group.desiredCapacity) {
      notes.push(`DesiredCapacity is already ${target}`);
      return { count: target, changed: false, note: notes.join('; ') };
    }
    if (this.writeInFlight) {
      throw new ScalerUnavailableError(`a SetDesiredCapacity for ${this.groupName} is still unanswered; not sending another`, { provider: 'aws', providerCode: 'write_in_flight' });
    }
    this.writeInFlight = true;
    const request = this.client
      .send(new SetDesiredCapacityCommand({ AutoScalingGroupName: this.groupName, DesiredCapacity: target, HonorCooldown: this.honorCooldown }))
      .finally(() => {
        this.writeInFlight = false;
        this.snapshot = null;
      });
    try {
      await this.withTimeout(request, 'SetDesiredCapacity');
    } catch (err) {
      throw this.classify(err, 'SetDesiredCapacity');
    }
    this.snapshot = { at: this.clock.now(), group: { ...group, desiredCapacity: target } };
    return { count: target, changed: true, ...(notes.length ? { note: notes.join('; ') } : {}) };
  }

  // ----- internals -----------------------------------------------------------

  private assertQueue(queue: string): void {
    const problem = queueNameProblem(queue);
    if (problem) throw new InvalidArgumentError(`AwsAutoScalingGroupScaler: ${problem}`);
  }

  private async group(): Promise<GroupState> {
    const snap = this.snapshot;
    if (!snap || this.clock.now() - snap.at > SNAPSHOT_TTL_MS) await this.read();
    const now = this.snapshot;
    if (!now) throw new ScalerUnavailableError(`Auto Scaling group ${this.groupName} could not be read`, { provider: 'aws' });
    if ('error' in now) throw now.error;
    return now.group;
  }

  private async read(): Promise<void> {
    if (this.readInFlight) {
      this.snapshot = { at: this.clock.now(), error: new ScalerUnavailableError(`the previous DescribeAutoScalingGroups for ${this.groupName} is still unanswered`, { provider: 'aws', providerCode: 'read_in_flight' }) };
      return;
    }
    this.readInFlight = true;
    const request = this.client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [this.groupName] })).finally(() => {
      this.readInFlight = false;
    });
    try {
      const out = await this.withTimeout(request, 'DescribeAutoScalingGroups');
      const g = out.AutoScalingGroups?.find((x) => x.AutoScalingGroupName === this.groupName);
      if (!g) {
        throw new ScalerFatalError(`Auto Scaling group ${this.groupName} not found (wrong name, region or account?)`, { provider: 'aws', providerCode: 'group_not_found' });
      }
      const { MinSize, MaxSize, DesiredCapacity } = g;
      if (!Number.isInteger(MinSize) || !Number.isInteger(MaxSize) || !Number.isInteger(DesiredCapacity)) {
        throw new ScalerUnavailableError(`DescribeAutoScalingGroups for ${this.groupName} returned no sizes`, { provider: 'aws' });
      }
      const live = (g.Instances ?? []).filter((i) => LIVE_STATES.has(String(i.LifecycleState))).length;
      this.snapshot = { at: this.clock.now(), group: { minSize: MinSize!, maxSize: MaxSize!, desiredCapacity: DesiredCapacity!, liveInstances: live } };
    } catch (err) {
      this.snapshot = { at: this.clock.now(), error: this.classify(err, 'DescribeAutoScalingGroups') };
    }
  }

  private withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ScalerUnavailableError(`AWS did not answer ${what} for ${this.groupName} within ${this.timeoutMs} ms; the request is left to finish and is not re-sent`, {
              provider: 'aws',
              providerCode: 'timeout',
            }),
          ),
        this.timeoutMs,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  private classify(err: unknown, op: string): ScalerError {
    if (err instanceof ScalerError) return err;
    const e = (err ?? {}) as { name?: unknown; message?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: unknown } };
    const name = typeof e.name === 'string' ? e.name : 'Error';
    const message = typeof e.message === 'string' ? e.message : String(err);
    const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
    const details = { cause: err, provider: 'aws', providerCode: name, ...(status !== undefined ? { status } : {}) };
    const text = `${op} for ${this.groupName} failed: ${name}${status !== undefined ? ` (HTTP ${status})` : ''}: ${message}`;
    if (FATAL.has(name) || status === 401 || status === 403) return new ScalerFatalError(text, details);
    if (name === 'ValidationError' && /not found/i.test(message)) return new ScalerFatalError(text, details);
    // Everything else — Throttling, ScalingActivityInProgress, ResourceContention, 429, 5xx,
    // network errors, expired credentials about to be refreshed, a ValidationError because
    // MaxSize was lowered since the read — may pass: the next tick re-reads and decides again.
    return new ScalerUnavailableError(text, details);
  }
}
