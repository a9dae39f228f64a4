import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import v8 from 'node:v8';
import { abortableSleep, runCleanup } from './base-store.ts';
import type { JobContext, JobDefinition, RunResult } from './define-job.ts';
import { InvalidArgumentError } from './errors.ts';
import { childLogger, type Logger, type LogLevel, resolveLogger } from './logger.ts';
import { backoffDelayMs, mulliganMaxAttempts } from './prepare.ts';
import type { Claim, ClaimRequest, ClaimedJob, Outcome, Store } from './store.ts';
import type { JobRecord } from './types.ts';
import { errorText } from './wait-async.ts';

/** Worker options. Names follow the original JQJobs worker. */
export interface WorkerOptions {
  /** The job types this worker can run. A claimed job of another type fails with a message naming it. */
  jobs: readonly JobDefinition<never>[];
  /** Queue or queues to take jobs from. @default every queue */
  queueName?: string | readonly string[] | null;
  /** Jobs in flight in this process. @default 1 */
  concurrency?: number;
  /** Seconds between polls when idle; stores with push wake-ups wake sooner. @default 5 */
  wakeupEvery?: number;
  /** Stop when no job is available and none is in flight. @default false */
  exitIfNoJobs?: boolean;
  /** Stop after claiming this many jobs (they are all settled first). @default null (never) */
  exitAfterNJobs?: number | null;
  /** Random 0–999 ms delay at start and added to each idle sleep, so a fleet does not poll in step. @default true */
  enableJitter?: boolean;
  /** Seconds in-flight jobs get to finish in `shutdown()` before they are retried with mulligan. @default 5 */
  gracefulShutdownTimeout?: number;
  /** Bytes of V8 heap that must be free before taking a job; below it the worker stops (reason `memory`). @default 20% of the heap limit */
  guaranteeMemoryForJob?: number;
  /** Process niceness to set at start through `os.setPriority` (−20…19). @default null (unchanged) */
  adjustPriority?: number | null;
  /** Install signal handlers (used by `runWorkerProcess`; the Worker itself never touches signals). @default false */
  handleSignals?: boolean;
  /** A pino-compatible logger or a level name (`silent`, `error`, `warn`, `info`, `verbose`). @default 'warn' */
  logger?: Logger | LogLevel;
  /** Seconds between lease renewals; the lease is three heartbeats. @default 10 */
  heartbeatSeconds?: number;
  /** Seconds between hung-job sweeps run by this worker (at most one sweep at a time per store); 0 = off. @default 15 */
  detectHungJobsEvery?: number;
  /** A stable id for logs and the claim record. @default host:pid:random */
  workerId?: string;
  /**
   * Looks up a job type that is not in `jobs` (e.g. `getJobDefinition`, to run every
   * type defined in this process). Consulted once per type name; the answer is cached.
   * @default none: only `jobs` are run
   */
  resolveJobType?: (name: string) => JobDefinition<never> | undefined;
}

/** Why a worker stopped. */
export type StopReason = 'stopped' | 'no-jobs' | 'max-jobs' | 'memory' | 'code-changed' | 'signal' | 'shutdown';

/** Typed lifecycle events of a Worker. */
export interface WorkerEvents {
  'job:start': [job: JobRecord];
  'job:complete': [job: JobRecord];
  'job:wait_async': [job: JobRecord];
  'job:retry': [job: JobRecord, error: string];
  'job:fail': [job: JobRecord, error: string];
  /** The job's late result was discarded: its claim was lost (hung detection or restart) before it finished. */
  'job:discarded': [job: JobRecord];
  'worker:idle': [];
  'worker:stop': [reason: StopReason];
  /** A store call failed; the worker backs off and carries on. */
  'worker:error': [error: unknown];
}

const hungSweeps = new WeakSet<Store>();

interface Slot {
  current: ClaimedJob;
  controller: AbortController | null;
  /** Set when `shutdown` gave up on this job: its late result must not be settled. */
  abandoned: boolean;
  /** True while the slot's settle is in flight: its claim is about to end, so heartbeats skip it. */
  settling: boolean;
}

class Ctx<P> implements JobContext<P> {
  constructor(
    readonly job: JobRecord<P>,
    readonly store: Store,
    private readonly slot: Slot,
    private readonly parentLogger: Logger,
  ) {}
  private log?: Logger;
  get signal(): AbortSignal {
    this.slot.controller ??= new AbortController();
    return this.slot.controller.signal;
  }
  get logger(): Logger {
    this.log ??= childLogger(this.parentLogger, { jobId: this.job.id, type: this.job.type, attempt: this.job.attemptNumber });
    return this.log;
  }
}

/**
 * Runs jobs from a store. `start()` resolves when the worker has stopped and its
 * in-flight jobs have settled.
 *
 * @example
 * const worker = new Worker(store, { jobs: [sendEmail], queueName: 'email', concurrency: 4 });
 * await worker.start();
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  readonly store: Store;
  /** Jobs this worker has settled (completed, parked, retried or failed). */
  jobsProcessed = 0;
  /** Why the worker stopped, once it has. */
  stopReason: StopReason | null = null;

  private readonly defs: Map<string, JobDefinition<unknown>>;
  private readonly resolveJobType: ((name: string) => JobDefinition<never> | undefined) | undefined;
  private readonly queues: readonly string[] | null;
  private readonly concurrency: number;
  private readonly wakeupMs: number;
  private readonly exitIfNoJobs: boolean;
  private readonly exitAfter: number | null;
  private readonly jitter: boolean;
  private readonly graceMs: number;
  private readonly memoryGuarantee: number;
  private readonly niceness: number | null;
  private readonly heartbeatMs: number;
  private readonly leaseMs: number;
  private readonly hungEveryMs: number;
  private readonly logger: Logger;

  private readonly slots = new Set<Slot>();
  private claimed = 0;
  private stopping = false;
  private running = false;
  private wake: AbortController = new AbortController();
  private slotsDrained: (() => void) | null = null;
  private memoryCheckedAt = 0;
  private timers: NodeJS.Timeout[] = [];
  /**
   * True when the latest claim to finish came back short (fewer jobs than asked):
   * the queue was empty as of that claim, so the main loop waits for work instead
   * of asking again. Arrivals after that claim are the store's `waitForWork`'s to
   * report (each store remembers wake-ups since the last claim started).
   */
  private queueDrained = false;
  /** True while the main loop sleeps because every slot is busy. */
  private waitingForRoom = false;

  constructor(store: Store, options: WorkerOptions) {
    super();
    if (!store || typeof store.claim !== 'function') throw new InvalidArgumentError('Worker needs a store');
    if (!options || !Array.isArray(options.jobs)) throw new InvalidArgumentError('Worker needs options.jobs: the job definitions it runs');
    this.store = store;
    this.defs = new Map(options.jobs.map((d) => [d.name, d as JobDefinition<unknown>]));
    this.resolveJobType = options.resolveJobType;
    const q = options.queueName;
    this.queues = q === undefined || q === null ? null : typeof q === 'string' ? [q] : [...q];
    if (this.queues?.some((n) => typeof n !== 'string' || n.length === 0)) throw new InvalidArgumentError('queueName must be non-empty strings');
    this.concurrency = positiveInt(options.concurrency ?? 1, 'concurrency');
    this.wakeupMs = nonNegative(options.wakeupEvery ?? 5, 'wakeupEvery') * 1000;
    this.exitIfNoJobs = options.exitIfNoJobs ?? false;
    this.exitAfter = options.exitAfterNJobs == null ? null : positiveInt(options.exitAfterNJobs, 'exitAfterNJobs');
    this.jitter = options.enableJitter ?? true;
    this.graceMs = nonNegative(options.gracefulShutdownTimeout ?? 5, 'gracefulShutdownTimeout') * 1000;
    this.memoryGuarantee = nonNegative(options.guaranteeMemoryForJob ?? Math.floor(v8.getHeapStatistics().heap_size_limit * 0.2), 'guaranteeMemoryForJob');
    this.niceness = options.adjustPriority ?? null;
    if (this.niceness !== null && (!Number.isInteger(this.niceness) || this.niceness < -20 || this.niceness > 19)) {
      throw new InvalidArgumentError(`adjustPriority must be an integer from -20 to 19, got ${String(this.niceness)}`);
    }
    this.heartbeatMs = nonNegative(options.heartbeatSeconds ?? 10, 'heartbeatSeconds') * 1000 || 10_000;
    this.leaseMs = this.heartbeatMs * 3;
    this.hungEveryMs = nonNegative(options.detectHungJobsEvery ?? 15, 'detectHungJobsEvery') * 1000;
    this.id = options.workerId ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.logger = childLogger(resolveLogger(options.logger), { workerId: this.id, ...(this.queues ? { queue: this.queues.join(',') } : {}) });
  }

  /** Jobs currently in flight. */
  get inFlight(): number {
    return this.slots.size;
  }

  /** Runs until stopped; resolves once in-flight jobs have settled. */
  async start(): Promise<void> {
    if (this.running) throw new InvalidArgumentError('worker already started');
    this.running = true;
    this.stopping = false;
    this.stopReason = null;
    if (this.niceness !== null) {
      try {
        os.setPriority(process.pid, this.niceness);
      } catch (err) {
        this.logger.warn({ err, priority: this.niceness }, 'could not adjust process priority');
      }
    }
    this.logger.info({ concurrency: this.concurrency }, 'worker started');
    if (this.jitter) await abortableSleep(Math.floor(Math.random() * 1000), this.wake.signal);
    this.startTimers();
    try {
      await this.loop();
      if (this.slots.size > 0) await new Promise<void>((r) => (this.slotsDrained = r));
    } finally {
      for (const t of this.timers) clearInterval(t);
      this.timers = [];
      this.running = false;
      this.stopReason ??= 'stopped';
      this.logger.info({ reason: this.stopReason, jobsProcessed: this.jobsProcessed }, 'worker stopped');
      this.emit('worker:stop', this.stopReason);
    }
  }

  /** Asks the worker to take no more jobs and returns at once; `start()` resolves when in-flight jobs settle. */
  stop(reason: StopReason = 'stopped'): void {
    if (!this.stopping) {
      this.stopping = true;
      this.stopReason ??= reason;
    }
    this.wake.abort();
  }

  /**
   * Graceful then forceful stop: takes no more jobs, gives in-flight jobs
   * `timeoutSeconds` (default `gracefulShutdownTimeout`) to finish, then retries
   * the ones still running with mulligan in the store, aborts their signals and
   * resolves. Returns true when every in-flight job finished by itself.
   */
  async shutdown(timeoutSeconds: number = this.graceMs / 1000, reason: StopReason = 'shutdown'): Promise<boolean> {
    this.stop(reason);
    if (this.slots.size === 0) return true;
    const drained = new Promise<boolean>((resolve) => {
      const check = setInterval(() => {
        if (this.slots.size === 0) {
          clearInterval(check);
          resolve(true);
        }
      }, 10);
      setTimeout(() => {
        clearInterval(check);
        resolve(this.slots.size === 0);
      }, timeoutSeconds * 1000);
    });
    if (await drained) return true;
    await this.abandonInFlight('worker shut down before the job finished');
    return false;
  }

  // ----- internals -------------------------------------------------------------

  private single: ClaimRequest | null = null;

  private request(limit: number): ClaimRequest {
    // The one-job request is made after every job: build it once.
    if (limit === 1) return (this.single ??= { workerId: this.id, queues: this.queues, limit: 1, leaseMs: this.leaseMs });
    return { workerId: this.id, queues: this.queues, limit, leaseMs: this.leaseMs };
  }

  /** Reserves one claim against exitAfterNJobs; false when stopping or the budget is spent. */
  private reserve(): boolean {
    if (this.stopping || (this.exitAfter !== null && this.claimed >= this.exitAfter)) return false;
    this.claimed++;
    return true;
  }

  /** How many more jobs this worker may claim now. */
  private room(): number {
    if (this.stopping) return 0;
    let n = this.concurrency - this.slots.size;
    if (this.exitAfter !== null) n = Math.min(n, this.exitAfter - this.claimed);
    return Math.max(0, n);
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      if (this.exitAfter !== null && this.claimed >= this.exitAfter) {
        this.stop('max-jobs');
        break;
      }
      const room = this.room();
      if (room === 0) {
        this.waitingForRoom = true;
        await this.waitForWake(this.wakeupMs || 1000);
        this.waitingForRoom = false;
        continue;
      }
      // Throttled like the slots' check: a heap reading per wake-up is measurable on the pickup path.
      if (!this.memoryOk()) break;
      let claimed: ClaimedJob[];
      if (this.queueDrained) {
        // A slot's claim just found nothing: another claim now would only find nothing again.
        this.queueDrained = false;
        claimed = [];
      } else {
        // Reserve before the await so slots claiming concurrently cannot overshoot exitAfterNJobs.
        this.claimed += room;
        try {
          claimed = await this.store.claim(this.request(room));
          this.claimed -= room - claimed.length;
          // Fewer than asked: nothing else was claimable (the Store contract), so the
          // free slots wait for work rather than ask again at once.
          this.queueDrained = claimed.length < room;
          failures = 0;
        } catch (err) {
          this.claimed -= room;
          failures++;
          this.reportStoreError(err, 'claim failed');
          // Capped at 5 s: a long poll interval must not keep a worker asleep long after the store is back.
          await this.waitForWake(Math.min(200 * 2 ** failures, 5000, Math.max(this.wakeupMs, 1000)));
          continue;
        }
      }
      if (claimed.length === 0) {
        if (this.exitIfNoJobs && this.slots.size === 0) {
          this.stop('no-jobs');
          break;
        }
        this.emit('worker:idle');
        const sleep = this.wakeupMs + (this.jitter ? Math.floor(Math.random() * 1000) : 0);
        await this.waitForWork(sleep);
        continue;
      }
      if (this.stopping) {
        await this.releaseClaims(claimed);
        break;
      }
      for (const cj of claimed) this.runSlot(cj);
    }
  }

  private async waitForWork(ms: number): Promise<void> {
    const signal = this.wake.signal;
    try {
      const room = this.room();
      await this.store.waitForWork(this.queues, ms, signal, room > 0 ? this.request(room) : undefined);
    } catch (err) {
      this.reportStoreError(err, 'waitForWork failed');
      await abortableSleep(Math.min(ms, 1000), signal);
    }
    // Whatever ended the wait, what a claim found before it is stale now.
    this.queueDrained = false;
    this.renewWake();
  }

  private async waitForWake(ms: number): Promise<void> {
    await abortableSleep(ms, this.wake.signal);
    this.renewWake();
  }

  private renewWake(): void {
    if (this.wake.signal.aborted && !this.stopping) this.wake = new AbortController();
  }

  private kick(): void {
    this.wake.abort();
  }

  private async releaseClaims(claimed: ClaimedJob[]): Promise<void> {
    try {
      await this.store.release(claimed.map((c) => c.claim));
    } catch (err) {
      this.reportStoreError(err, 'could not hand back claimed jobs; hung-job detection will requeue them');
    }
  }

  /** One slot: runs a job, settles it and, while there is work, the next one claimed in the same round trip. */
  private runSlot(first: ClaimedJob): void {
    const slot: Slot = { current: first, controller: null, abandoned: false, settling: false };
    this.slots.add(slot);
    void (async () => {
      let cj: ClaimedJob | undefined = first;
      let drained = false;
      while (cj) {
        slot.current = cj;
        slot.controller = null;
        const outcome = await this.execute(cj, slot);
        if (slot.abandoned) break;
        // This slot's own capacity is free again, so it may take the next job itself.
        const wantNext = this.memoryOk() && this.reserve();
        slot.settling = true;
        const next = await this.settle(cj, outcome, wantNext ? this.request(1) : undefined);
        slot.settling = false;
        // An empty next means nothing was claimable, this settle's own retry included (the Store contract).
        drained = wantNext && next.length === 0;
        if (drained) this.claimed--;
        if (wantNext) this.queueDrained = drained;
        if (slot.abandoned || this.stopping) {
          // A stop that arrived while the settle was in flight: the job it claimed
          // next was never started, so it goes back untouched.
          if (next.length) {
            this.claimed -= next.length;
            await this.releaseClaims(next);
          }
          break;
        }
        cj = next[0];
      }
      this.slots.delete(slot);
      if (this.slots.size === 0 && this.slotsDrained) this.slotsDrained();
      // Let the main loop fill the freed slot (or notice that the queue is empty).
      // When this slot found the queue empty, only a main loop asleep for lack of room
      // needs waking: one that is claiming or already waiting for work carries on by
      // itself, and cutting a wait short would only make the store withdraw and
      // register it again (two more store calls per job).
      const quiet = drained && !this.waitingForRoom && !(this.exitIfNoJobs && this.slots.size === 0);
      if (!quiet) this.kick();
    })();
  }

  private async execute(cj: ClaimedJob, slot: Slot): Promise<Outcome> {
    const job = cj.job;
    let def = this.defs.get(job.type);
    if (!def && this.resolveJobType) {
      def = this.resolveJobType(job.type) as JobDefinition<unknown> | undefined;
      if (def) this.defs.set(job.type, def);
    }
    if (!def) {
      return { status: 'failed', error: `Unknown job type "${job.type}": this worker runs ${[...this.defs.keys()].map((n) => JSON.stringify(n)).join(', ') || 'no types'}` };
    }
    const payloadError = cj.payloadError;
    if (payloadError) return { status: 'failed', error: `Unreadable payload for job type "${job.type}": ${payloadError}` };
    if (this.listenerCount('job:start') > 0) this.emit('job:start', job);
    const ctx = new Ctx(job, this.store, slot, this.logger);
    let result: RunResult | unknown;
    try {
      result = await def.run(job.payload, ctx);
    } catch (err) {
      return this.failure(job, errorText(err), false);
    }
    if (result === undefined || result === 'completed') {
      if (job.deleteOnComplete && def.cleanup) await runCleanup(job, this.store, ctx.logger, ctx.signal);
      return COMPLETE[job.deleteOnComplete ? 1 : 0]!;
    }
    if (result === 'wait_async') return WAIT_ASYNC;
    return this.failure(job, `Invalid return value from ${job.type}.run: ${describe(result)}`, false);
  }

  private failure(job: JobRecord, error: string, mulligan: boolean): Outcome {
    const maxAttempts = mulligan ? mulliganMaxAttempts(job.maxAttempts) : job.maxAttempts;
    if (job.attemptNumber < maxAttempts) {
      return { status: 'queued', error, delayMs: mulligan ? 0 : backoffDelayMs(job.backoff, job.attemptNumber), maxAttempts };
    }
    return { status: 'failed', error, maxAttempts };
  }

  /** Settles with retries: a store outage must not lose the result while the lease lasts. */
  private async settle(cj: ClaimedJob, outcome: Outcome, next?: ClaimRequest): Promise<ClaimedJob[]> {
    const deadline = Date.now() + this.leaseMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.store.settle(cj.claim, outcome, next);
        this.jobsProcessed++;
        if (!r.applied) {
          this.logger.warn({ jobId: cj.job.id, type: cj.job.type, attempt: cj.job.attemptNumber }, 'late result discarded: the job was retried or restarted while it ran');
          this.emit('job:discarded', cj.job);
        } else {
          this.afterSettle(cj.job, outcome, r.job);
        }
        return r.next;
      } catch (err) {
        this.reportStoreError(err, 'settle failed, retrying');
        if (Date.now() > deadline || this.stopping) {
          this.logger.error({ err, jobId: cj.job.id }, 'could not record the job result; hung-job detection will retry the job');
          return [];
        }
        await abortableSleep(Math.min(100 * 2 ** attempt, 5000));
      }
    }
  }

  private afterSettle(job: JobRecord, outcome: Outcome, after: JobRecord | null): void {
    const rec = after ?? job;
    switch (outcome.status) {
      case 'completed':
        if (this.listenerCount('job:complete') > 0) this.emit('job:complete', rec);
        break;
      case 'wait_async':
        if (this.listenerCount('job:wait_async') > 0) this.emit('job:wait_async', rec);
        break;
      case 'queued':
        this.logger.info({ ...this.jobFields(job), error: outcome.error }, 'job failed, will retry');
        this.emit('job:retry', rec, outcome.error);
        break;
      case 'failed':
        this.logger.error({ ...this.jobFields(job), error: outcome.error }, 'job failed');
        this.emit('job:fail', rec, outcome.error);
        break;
    }
  }

  /** Log fields naming a job, with its type's description when it has one. */
  private jobFields(job: JobRecord): Record<string, unknown> {
    const fields: Record<string, unknown> = { jobId: job.id, type: job.type, queue: job.queueName, attempt: job.attemptNumber };
    const describe = this.defs.get(job.type)?.description;
    if (describe) {
      try {
        fields.description = describe(job.payload);
      } catch {
        // A description is for humans; a broken one must not break logging.
      }
    }
    return fields;
  }

  private async abandonInFlight(reason: string): Promise<void> {
    const slots = [...this.slots];
    await Promise.all(
      slots.map(async (slot) => {
        slot.abandoned = true;
        slot.controller?.abort(new Error(reason));
        const job = slot.current.job;
        try {
          const r = await this.store.settle(slot.current.claim, this.failure(job, reason, true));
          if (r.applied) this.logger.warn({ jobId: job.id, type: job.type }, 'in-flight job retried with mulligan at shutdown');
        } catch (err) {
          this.reportStoreError(err, 'could not retry an in-flight job at shutdown; hung-job detection will');
        }
        this.slots.delete(slot);
      }),
    );
    if (this.slotsDrained) this.slotsDrained();
  }

  private startTimers(): void {
    const hb = setInterval(() => void this.heartbeat(), this.heartbeatMs);
    hb.unref();
    this.timers.push(hb);
    if (this.hungEveryMs > 0) {
      const sweep = setInterval(() => void this.sweepHung(), this.hungEveryMs);
      sweep.unref();
      this.timers.push(sweep);
    }
  }

  private async heartbeat(): Promise<void> {
    const claims: Claim[] = [];
    const bySlot = new Map<string, Slot>();
    for (const slot of this.slots) {
      if (slot.abandoned || slot.settling) continue;
      claims.push(slot.current.claim);
      bySlot.set(slot.current.claim.jobId, slot);
    }
    if (claims.length === 0) return;
    try {
      const lost = await this.store.extendLeases(claims, this.leaseMs);
      for (const id of lost) {
        const slot = bySlot.get(id);
        // The slot settled (or moved on to another job) while the heartbeat was in flight: not a loss.
        if (!slot || slot.settling || slot.current.claim.jobId !== id || !claims.includes(slot.current.claim)) continue;
        this.logger.warn({ jobId: id }, 'claim lost (retried or restarted elsewhere); its result will be discarded');
        slot.controller?.abort(new Error('claim lost'));
      }
    } catch (err) {
      this.reportStoreError(err, 'heartbeat failed');
    }
  }

  private async sweepHung(): Promise<void> {
    if (hungSweeps.has(this.store)) return;
    hungSweeps.add(this.store);
    try {
      const n = await this.store.detectHungJobs();
      if (n > 0) this.logger.warn({ count: n }, 'hung jobs retried');
    } catch (err) {
      this.reportStoreError(err, 'hung-job sweep failed');
    } finally {
      hungSweeps.delete(this.store);
    }
  }

  /** Checks free heap, at most every 50 ms. Stops the worker (reason `memory`) when short. */
  private memoryOk(): boolean {
    const now = Date.now();
    if (now - this.memoryCheckedAt < 50) return true;
    this.memoryCheckedAt = now;
    const h = v8.getHeapStatistics();
    const free = h.heap_size_limit - h.used_heap_size;
    if (free >= this.memoryGuarantee) return true;
    this.logger.warn({ freeBytes: free, guaranteeMemoryForJob: this.memoryGuarantee }, 'not enough free memory for another job; stopping');
    this.stop('memory');
    return false;
  }

  private reportStoreError(err: unknown, msg: string): void {
    this.logger.error({ err }, msg);
    if (this.listenerCount('worker:error') > 0) this.emit('worker:error', err);
  }
}

const COMPLETE: readonly Outcome[] = [
  { status: 'completed', delete: false },
  { status: 'completed', delete: true },
];
const WAIT_ASYNC: Outcome = { status: 'wait_async' };

function describe(v: unknown): string {
  try {
    return typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}

function positiveInt(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(n)}`);
  return n;
}

function nonNegative(n: number, name: string): number {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number ≥ 0, got ${String(n)}`);
  return n;
}
