import { AsyncResource } from 'node:async_hooks';
import {
  defineJob,
  type EnqueueOptions,
  type EnqueuedJob,
  getJobDefinition,
  InvalidArgumentError,
  type JobContext,
  type JobDefinition,
  type JobRecord,
  type Logger,
  prepareJob,
  type RunResult,
  resolveLogger,
  type Store,
  UnknownJobTypeError,
  validateEnqueueOptions,
  Worker,
} from '@jqjobs/core';
import { MemoryStore } from '@jqjobs/store-memory';
import { TaskTimeoutError } from './errors.ts';
import { fastifyOnRequest, fastifyOnResponse, fastifyPreHandler, runInScope, scopeMiddleware } from './hooks.ts';
import { type HeldTask, type ScopeOwner, scopeStorage, scopesSeen, takeHeld } from './scope.ts';
import type {
  CloseOptions,
  DelayedOptions,
  DoLaterJobOptions,
  DropInfo,
  DropReason,
  FastifyStyleHook,
  Middleware,
  RunOptions,
  TaskInfo,
  TaskKind,
  WaitUntil,
} from './types.ts';

/** An instance with its own queue, worker and settings. The module-level functions use a default one. */
export interface Delayed {
  /**
   * Runs `fn(...args)` once the current unit of work is done: after the response
   * (inside a request scope), after `run(fn)`'s function, or at `beforeExit`
   * outside any scope. The arguments are kept by reference, not copied.
   * @returns false when the task was dropped (queue full, or closed); true otherwise.
   * @throws InvalidArgumentError when `fn` is neither a function nor a job type.
   */
  doLater<A extends unknown[]>(fn: (...args: A) => unknown, ...args: A): boolean;
  /**
   * Enqueues a job of a defined type once the current unit of work is done. The
   * payload is serialised now (as every store does), so later changes to it are
   * not seen. With `durable: true` it goes to `durableStore`.
   * @throws InvalidJobOptionsError | PayloadNotSerializableError | InvalidArgumentError — nothing is queued.
   */
  doLater<P>(jobType: JobDefinition<P>, payload: P, options?: DoLaterJobOptions): boolean;
  /**
   * As above, by the name of a type defined in this process.
   * @throws UnknownJobTypeError when no such type is defined.
   */
  doLater(jobType: string, payload: unknown, options?: DoLaterJobOptions): boolean;
  /**
   * Starts at once the work held for `beforeExit`, and resolves when no released
   * work is queued or running, including work that work deferred. Work held by a
   * scope that is still open (a request in progress) is not waited for.
   */
  flush(): Promise<void>;
  /**
   * Stops taking work (later `doLater` calls drop with reason `closed`), runs
   * everything pending, including work held by open scopes, and waits up to
   * `timeoutMs`. Work still pending then is abandoned and reported to `onDrop`
   * (reason `close-timeout`).
   * @returns true when everything finished in time.
   */
  close(options?: CloseOptions): Promise<boolean>;
  /** A `(req, res, next)` handler that opens a scope ending when the response finishes or the client goes away. */
  middleware(): Middleware;
  /** Runs `fn` in a scope; work it defers starts once `fn` (and the promise it returns) has settled. */
  run<T>(fn: () => T, options?: RunOptions): Promise<Awaited<T>>;
  /** Fastify `onRequest` hook: opens the request's scope. */
  readonly onRequest: FastifyStyleHook;
  /** Fastify `preHandler` hook: re-enters the request's scope where body parsing lost the async context. Optional. */
  readonly preHandler: FastifyStyleHook;
  /** Fastify `onResponse` hook: ends the request's scope. */
  readonly onResponse: FastifyStyleHook;
  /** Tasks accepted and not finished yet: held by scopes, queued or running. Never more than `maxQueue`. */
  readonly pending: number;
  /** Tasks dropped since the instance was created. */
  readonly dropped: number;
}

type Fn = (...args: unknown[]) => unknown;

const FN_TYPE = 'jqjobs:delayed:fn';

/** The payload of a function task: closures are not JSON, so the job carries a handle into `fnTasks`. */
interface FnPayload {
  handle: number;
  name: string;
}

class Task implements HeldTask {
  /** The caller's async context, captured at `doLater`; set once the task is accepted. */
  resource: AsyncResource | null = null;
  constructor(
    readonly owner: DelayedImpl,
    readonly kind: TaskKind,
    readonly name: string,
    readonly fn: Fn | null,
    readonly args: unknown[] | null,
    readonly def: JobDefinition<unknown> | null,
    readonly payloadJson: string | null,
    readonly options: EnqueueOptions | null,
    readonly durable: boolean,
  ) {}
}

/** Function tasks released to a store, by handle. Process-wide, like the job type that reads it. */
const fnTasks = new Map<number, Task>();
let nextHandle = 0;

const fnJob = defineJob<FnPayload>({
  name: FN_TYPE,
  description: (p) => `deferred ${p.name}()`,
  async run(payload, ctx) {
    const task = fnTasks.get(payload.handle);
    if (!task) throw new Error(`deferred function ${payload.name} is not in this process any more`);
    await task.owner.attempt(task, ctx, invokeFn, null);
  },
});

function invokeFn(this: Task | null): unknown {
  return this!.fn!(...this!.args!);
}

const OPTION_KEYS = new Set([
  'concurrency',
  'maxQueue',
  'onDrop',
  'onError',
  'logger',
  'taskTimeoutMs',
  'maxAttempts',
  'backoff',
  'waitUntil',
  'durableStore',
  'outsideScope',
]);

let workerSeq = 0;

/** @internal The implementation behind `Delayed`. */
export class DelayedImpl implements Delayed, ScopeOwner {
  private readonly concurrency: number;
  private readonly maxQueue: number;
  private readonly taskTimeoutMs: number | null;
  private readonly fnOptions: EnqueueOptions;
  private readonly outsideScope: 'beforeExit' | 'immediate';
  private readonly logger: Logger;
  private readonly onDrop: ((info: DropInfo) => void) | undefined;
  private readonly onError: ((error: unknown, info: TaskInfo) => void) | undefined;
  private readonly waitUntil: WaitUntil | undefined;
  private readonly durableStore: Store | undefined;

  private readonly store: MemoryStore;
  private worker: Worker | null = null;
  private workerDone: Promise<void> = Promise.resolve();
  /** Bumped when a job type is first seen (or redefined): a Worker knows only the types it was built with. */
  private defsVersion = 0;
  private workerDefsVersion = 0;
  private readonly wrappers = new Map<string, { source: JobDefinition<unknown>; wrapper: JobDefinition<unknown> }>();
  /** Job-type tasks in the local store, by job id: where their captured context lives. */
  private readonly byJobId = new Map<string, Task>();
  private readonly enqueuing = new Set<Promise<void>>();
  private resumeTimer: NodeJS.Timeout | null = null;
  /** Timeouts of attempts in flight, cleared when close() abandons them so they do not hold the process open. */
  private readonly attemptTimers = new Set<NodeJS.Timeout>();

  private unscoped: Task[] = [];
  private beforeExitHooked = false;
  /** Accepted, not yet released (in a scope or waiting for beforeExit). */
  private held = 0;
  /** Released and not finished (local or durable). */
  private active = 0;
  /** Released into the local store and not finished. */
  private local = 0;
  private droppedCount = 0;
  private dropWarned = false;
  private unscopedWarned = false;
  private idleWaiters: (() => void)[] = [];
  private flushWaiters: (() => void)[] = [];
  private closed = false;
  /** Set once close() has given up waiting or finished: no worker may start again. */
  private stopped = false;
  private closing: Promise<boolean> | null = null;

  readonly onRequest: FastifyStyleHook = fastifyOnRequest;
  readonly preHandler: FastifyStyleHook = fastifyPreHandler;
  readonly onResponse: FastifyStyleHook = fastifyOnResponse;

  constructor(options: DelayedOptions = {}) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('createDelayed expects an options object');
    for (const key of Object.keys(options)) {
      if (!OPTION_KEYS.has(key)) throw new InvalidArgumentError(`createDelayed: unknown option "${key}"`);
    }
    this.concurrency = positiveInt(options.concurrency ?? 4, 'concurrency');
    this.maxQueue = positiveInt(options.maxQueue ?? 10_000, 'maxQueue');
    const timeout = options.taskTimeoutMs === undefined ? 30_000 : options.taskTimeoutMs;
    if (timeout !== null && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0)) {
      throw new InvalidArgumentError(`taskTimeoutMs must be a positive number of milliseconds or null, got ${String(timeout)}`);
    }
    this.taskTimeoutMs = timeout;
    const maxAttempts = positiveInt(options.maxAttempts ?? 1, 'maxAttempts');
    try {
      this.fnOptions = validateEnqueueOptions({ maxAttempts, backoff: options.backoff ?? null });
    } catch (err) {
      throw new InvalidArgumentError(`backoff: ${(err as Error).message}`);
    }
    const outside = options.outsideScope ?? 'beforeExit';
    if (outside !== 'beforeExit' && outside !== 'immediate') {
      throw new InvalidArgumentError(`outsideScope must be 'beforeExit' or 'immediate', got ${JSON.stringify(outside)}`);
    }
    this.outsideScope = outside;
    this.onDrop = optionalFunction(options.onDrop, 'onDrop');
    this.onError = optionalFunction(options.onError, 'onError');
    this.waitUntil = optionalFunction(options.waitUntil, 'waitUntil');
    if (options.durableStore !== undefined && (options.durableStore === null || typeof options.durableStore.enqueue !== 'function')) {
      throw new InvalidArgumentError('durableStore must be a store (an object with enqueue)');
    }
    this.durableStore = options.durableStore;
    this.logger = resolveLogger(options.logger);
    this.store = new MemoryStore({ logger: this.logger });
  }

  get pending(): number {
    return this.held + this.active;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  // ----- deferring -------------------------------------------------------------

  doLater(target: unknown, ...rest: unknown[]): boolean {
    return this.defer(target, rest);
  }

  /** The untyped entry point shared with the module-level `doLater`. */
  defer(target: unknown, rest: unknown[]): boolean {
    const task = this.makeTask(target, rest);
    if (this.closed) return this.drop(task, 'closed');
    if (this.held + this.active >= this.maxQueue) return this.drop(task, 'queue-full');
    // AsyncResource, not AsyncLocalStorage.snapshot(): the latter costs ~15 µs on Node 20.
    task.resource = new AsyncResource('jqjobs:delayed');
    this.held++;
    const scope = scopeStorage.getStore();
    if (scope !== undefined) {
      if (scope.open) {
        (scope.held ??= []).push(task);
        return true;
      }
      // Deferred after its scope ended (e.g. by deferred work itself): nothing is left to wait for.
      this.release(task);
      this.afterRelease(undefined);
      return true;
    }
    if (this.outsideScope === 'immediate') {
      this.release(task);
      this.afterRelease(undefined);
      return true;
    }
    this.holdUnscoped(task);
    return true;
  }

  private makeTask(target: unknown, rest: unknown[]): Task {
    if (typeof target === 'function') {
      return new Task(this, 'function', target.name || 'anonymous', target as Fn, rest, null, null, null, false);
    }
    const def = resolveDefinition(target);
    if (rest.length > 2) throw new InvalidArgumentError('doLater(jobType, payload, options) takes three arguments at most');
    const payload = rest[0];
    const raw = rest[1];
    let durable = false;
    let options: EnqueueOptions = {};
    if (raw !== undefined) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidArgumentError('doLater options must be an object');
      const { durable: d, ...enqueueOptions } = raw as DoLaterJobOptions;
      if (d !== undefined && typeof d !== 'boolean') throw new InvalidArgumentError('doLater option durable must be a boolean');
      durable = d === true;
      options = enqueueOptions;
    }
    if (durable && this.durableStore === undefined) {
      throw new InvalidArgumentError('doLater: durable: true needs a durableStore in createDelayed options');
    }
    // Validates now, so a bad payload or option fails the caller instead of being reported later.
    const prepared = prepareJob(def, payload, options);
    return new Task(this, 'job', def.name, null, null, def, prepared.payloadJson, options, durable);
  }

  private drop(task: Task, reason: DropReason): false {
    this.droppedCount++;
    const info: DropInfo = { kind: task.kind, name: task.name, reason, pending: this.held + this.active, maxQueue: this.maxQueue };
    if (this.onDrop) {
      try {
        this.onDrop(info);
      } catch (err) {
        this.logger.error({ err }, 'onDrop threw');
      }
    }
    // One line per burst, not one per task: a flood of drops must not become a flood of logs.
    if (!this.dropWarned) {
      this.dropWarned = true;
      this.logger.warn({ reason, task: task.name, pending: info.pending, maxQueue: this.maxQueue }, 'deferred task dropped');
    }
    return false;
  }

  private holdUnscoped(task: Task): void {
    this.unscoped.push(task);
    if (!this.beforeExitHooked) {
      this.beforeExitHooked = true;
      process.on('beforeExit', this.onBeforeExit);
    }
    if (scopesSeen && !this.unscopedWarned) {
      this.unscopedWarned = true;
      this.logger.warn(
        { task: task.name },
        'doLater outside any scope: the work waits for beforeExit. In a server, defer inside middleware()/run(), or set outsideScope: "immediate"',
      );
    }
  }

  private readonly onBeforeExit = (): void => {
    this.releaseUnscoped();
  };

  private unhookBeforeExit(): void {
    if (this.beforeExitHooked) {
      this.beforeExitHooked = false;
      process.off('beforeExit', this.onBeforeExit);
    }
  }

  private releaseUnscoped(): void {
    this.unhookBeforeExit();
    if (this.unscoped.length === 0) return;
    const tasks = this.unscoped;
    this.unscoped = [];
    for (const task of tasks) this.release(task);
    this.afterRelease(undefined);
  }

  // ----- releasing ---------------------------------------------------------------

  /** Moves a held task to its store. Called by scopes, `beforeExit`, `flush` and `close`. */
  release(held: HeldTask): void {
    const task = held as Task;
    this.held--;
    this.active++;
    try {
      if (task.durable) this.enqueueDurable(task);
      else this.enqueueLocal(task);
    } catch (err) {
      // This runs inside a response's 'finish' listener, where a throw would crash the process.
      this.report(err, { kind: task.kind, name: task.name, jobId: null, attempt: 0, maxAttempts: 0, willRetry: false });
      this.logger.error({ err, task: task.name }, 'deferred task could not be queued');
      this.settled();
      return;
    }
    if (task.durable) return;
    try {
      this.ensureWorker();
    } catch (err) {
      this.logger.error({ err }, 'delayed-job could not start its worker');
    }
  }

  private enqueueLocal(task: Task): void {
    if (task.fn !== null) {
      const handle = ++nextHandle;
      fnTasks.set(handle, task);
      const payload: FnPayload = { handle, name: task.name };
      this.store.enqueue(fnJob, payload, this.fnOptions).then(undefined, (err: unknown) => {
        fnTasks.delete(handle);
        this.enqueueFailed(task, err);
      });
      this.local++;
      return;
    }
    const def = task.def!;
    this.ensureWrapper(def);
    const tracked: Promise<void> = this.store.enqueue(def, JSON.parse(task.payloadJson!) as unknown, task.options!).then(
      (job: EnqueuedJob) => {
        // A coalesced task was merged into a job already here, which finishes for both.
        if (job.coalesced) this.finishLocal();
        else this.byJobId.set(job.id, task);
        this.enqueuing.delete(tracked);
      },
      (err: unknown) => {
        this.enqueuing.delete(tracked);
        this.enqueueFailed(task, err);
      },
    );
    this.enqueuing.add(tracked);
    this.local++;
  }

  afterRelease(scopeWaitUntil: WaitUntil | undefined): void {
    if (this.waitUntil === undefined && scopeWaitUntil === undefined) return;
    const idle = this.idle();
    for (const fn of [this.waitUntil, scopeWaitUntil]) {
      if (fn === undefined) continue;
      try {
        fn(idle);
      } catch (err) {
        this.logger.error({ err }, 'waitUntil threw');
      }
    }
  }

  private enqueueDurable(task: Task): void {
    const store = this.durableStore!;
    const enqueue = () => store.enqueue(task.def!, JSON.parse(task.payloadJson!) as unknown, task.options!);
    let p: Promise<unknown>;
    try {
      // In the caller's context, so a store that traces or logs per request sees the request.
      p = task.resource!.runInAsyncScope(enqueue);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      () => this.settled(),
      (err: unknown) => {
        this.report(err, { kind: 'job', name: task.name, jobId: null, attempt: 0, maxAttempts: 0, willRetry: false });
        this.logger.error({ err, task: task.name }, 'deferred job could not be enqueued into the durable store');
        this.settled();
      },
    );
  }

  private enqueueFailed(task: Task, err: unknown): void {
    this.report(err, { kind: task.kind, name: task.name, jobId: null, attempt: 0, maxAttempts: 0, willRetry: false });
    this.logger.error({ err, task: task.name }, 'deferred task could not be queued');
    this.finishLocal();
  }

  /** The definition the Worker runs for a user's job type: the same type, run in the caller's context. */
  private ensureWrapper(def: JobDefinition<unknown>): void {
    const known = this.wrappers.get(def.name);
    if (known !== undefined && known.source === def) return;
    const wrapper: JobDefinition<unknown> = Object.freeze({ ...def, run: (payload: unknown, ctx: JobContext<unknown>) => this.runJob(def, payload, ctx) });
    this.wrappers.set(def.name, { source: def, wrapper });
    this.defsVersion++;
    // A Worker's job types are fixed when it is built: let this one finish and start one that knows the new type.
    if (this.worker !== null) this.worker.stop();
  }

  // ----- running -------------------------------------------------------------------

  private ensureWorker(): void {
    if (this.worker !== null || this.stopped) return;
    if (this.resumeTimer !== null) {
      clearTimeout(this.resumeTimer);
      this.resumeTimer = null;
    }
    const jobs = [fnJob, ...[...this.wrappers.values()].map((w) => w.wrapper)] as JobDefinition<never>[];
    const worker = new Worker(this.store, {
      jobs,
      concurrency: this.concurrency,
      // Started on demand and gone when idle: an idle worker's timers would keep a script from exiting.
      exitIfNoJobs: true,
      enableJitter: false,
      detectHungJobsEvery: 0,
      // Deferred work must not stop for heap pressure: the queue bound limits it instead.
      guaranteeMemoryForJob: 0,
      logger: this.logger,
      workerId: `delayed:${process.pid}:${++workerSeq}`,
    });
    this.worker = worker;
    this.workerDefsVersion = this.defsVersion;
    worker.on('job:complete', this.onFinal);
    worker.on('job:fail', this.onFinal);
    worker.on('job:wait_async', this.onFinal);
    this.workerDone = worker.start().then(
      () => this.workerStopped(worker),
      (err: unknown) => {
        this.logger.error({ err }, 'delayed-job worker failed');
        this.workerStopped(worker);
      },
    );
  }

  private workerStopped(worker: Worker): void {
    worker.removeAllListeners();
    if (this.worker === worker) this.worker = null;
    this.resume().catch((err: unknown) => this.logger.error({ err }, 'delayed-job could not restart its worker'));
  }

  /** After a worker exits: start another if jobs arrived meanwhile, or wake up when a retry's backoff ends. */
  private async resume(): Promise<void> {
    if (this.stopped || this.worker !== null || this.local === 0) return;
    const stats = await this.store.stats();
    if (this.stopped || this.worker !== null) return;
    if (this.workerDefsVersion !== this.defsVersion || stats.some((q) => q.oldestQueuedAgeMs !== null)) {
      this.ensureWorker();
      return;
    }
    if (!stats.some((q) => q.counts.queued > 0)) return;
    const queued = await this.store.jobs({ status: 'queued', limit: 10_000 });
    if (this.stopped || this.worker !== null || this.resumeTimer !== null) return;
    const now = Date.now();
    let next = Infinity;
    for (const job of queued) next = Math.min(next, job.startAt?.getTime() ?? now);
    this.resumeTimer = setTimeout(
      () => {
        this.resumeTimer = null;
        this.ensureWorker();
      },
      Math.max(1, next - now),
    );
  }

  /** A job left the local queue for good: completed, failed for the last time, or parked. */
  private readonly onFinal = (job: JobRecord): void => {
    let mine = false;
    if (job.type === FN_TYPE) {
      const handle = (job.payload as FnPayload).handle;
      if (fnTasks.get(handle)?.owner === this) {
        fnTasks.delete(handle);
        mine = true;
      }
    } else {
      mine = this.byJobId.delete(job.id);
    }
    // The local store is private, so a failed, kept or parked record would only leak memory.
    if (job.status !== 'completed' || !job.deleteOnComplete) {
      this.store.delete(job.id).catch((err: unknown) => this.logger.debug({ err, jobId: job.id }, 'could not remove a finished job'));
    }
    if (mine) this.finishLocal();
  };

  private async runJob(def: JobDefinition<unknown>, payload: unknown, ctx: JobContext<unknown>): Promise<RunResult> {
    let task = this.byJobId.get(ctx.job.id);
    if (task === undefined && this.enqueuing.size > 0) {
      // The worker can claim a job before enqueue's promise told us its id.
      await Promise.all([...this.enqueuing]);
      task = this.byJobId.get(ctx.job.id);
    }
    const controller = new AbortController();
    const jobCtx: JobContext<unknown> = { job: ctx.job, store: ctx.store, logger: ctx.logger, signal: AbortSignal.any([ctx.signal, controller.signal]) };
    const invoke = (): unknown => def.run(payload, jobCtx);
    // The worker checks the value: anything but nothing, 'completed' or 'wait_async' fails the job.
    return (await this.attempt(task ?? null, ctx, invoke, controller)) as RunResult;
  }

  /** Runs one attempt in the captured context, under the timeout; reports a failure and rethrows it for the worker. */
  async attempt(task: Task | null, ctx: JobContext<unknown>, invoke: (this: Task | null) => unknown, controller: AbortController | null): Promise<unknown> {
    const timeoutMs = this.taskTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      const started = task?.resource ? task.resource.runInAsyncScope(invoke, task) : invoke.call(task);
      if (timeoutMs === null || !isThenable(started)) return await started;
      return await new Promise<unknown>((resolve, reject) => {
        timer = setTimeout(() => {
          this.attemptTimers.delete(timer!);
          const err = new TaskTimeoutError(task?.name ?? ctx.job.type, timeoutMs);
          controller?.abort(err);
          reject(err);
        }, timeoutMs);
        this.attemptTimers.add(timer);
        // Also handles a late rejection of a timed-out task, which would otherwise be unhandled.
        started.then(resolve, reject);
      });
    } catch (err) {
      const job = ctx.job;
      this.report(err, {
        kind: task?.kind ?? (job.type === FN_TYPE ? 'function' : 'job'),
        name: task?.name ?? job.type,
        jobId: job.id,
        attempt: job.attemptNumber,
        maxAttempts: job.maxAttempts,
        willRetry: job.attemptNumber < job.maxAttempts,
      });
      throw err;
    } finally {
      if (timer !== undefined) {
        clearTimeout(timer);
        this.attemptTimers.delete(timer);
      }
    }
  }

  private report(err: unknown, info: TaskInfo): void {
    if (this.onError === undefined) return;
    try {
      this.onError(err, info);
    } catch (e) {
      this.logger.error({ err: e }, 'onError threw');
    }
  }

  private finishLocal(): void {
    this.local--;
    this.settled();
  }

  private settled(): void {
    this.active--;
    if (this.active > 0) return;
    this.dropWarned = false;
    if (this.flushWaiters.length > 0 && this.unscoped.length > 0) {
      // Work deferred outside a scope while flushing (by deferred work, say) is part of the flush.
      this.releaseUnscoped();
      if (this.active > 0) return;
    }
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    const waiters = [...this.idleWaiters, ...this.flushWaiters];
    this.idleWaiters = [];
    this.flushWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when no released work is queued or running. */
  private idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ----- draining --------------------------------------------------------------------

  flush(): Promise<void> {
    this.releaseUnscoped();
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  close(options: CloseOptions = {}): Promise<boolean> {
    if (this.closing !== null) return this.closing;
    const timeoutMs = options?.timeoutMs ?? 10_000;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(new InvalidArgumentError(`close: timeoutMs must be a number ≥ 0, got ${String(timeoutMs)}`));
    }
    this.closed = true;
    this.closing = this.shutdown(timeoutMs);
    return this.closing;
  }

  private async shutdown(timeoutMs: number): Promise<boolean> {
    // Work held by requests still in progress would otherwise run after the close, or never.
    const fromScopes = takeHeld(this);
    for (const task of fromScopes) this.release(task);
    const drained = await this.flushWithin(timeoutMs);
    this.stopped = true;
    this.unhookBeforeExit();
    if (this.resumeTimer !== null) {
      clearTimeout(this.resumeTimer);
      this.resumeTimer = null;
    }
    const worker = this.worker;
    if (!drained) {
      this.abandonPending();
      if (worker !== null) await worker.shutdown(0);
    } else if (worker !== null) {
      worker.stop();
    }
    await this.workerDone;
    await this.store.close();
    this.wakeWaiters();
    return drained;
  }

  private async flushWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.flush().then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private abandonPending(): void {
    const lost: Task[] = [...this.unscoped, ...this.byJobId.values()];
    for (const [handle, task] of fnTasks) {
      if (task.owner !== this) continue;
      fnTasks.delete(handle);
      lost.push(task);
    }
    this.unscoped = [];
    this.byJobId.clear();
    for (const timer of this.attemptTimers) clearTimeout(timer);
    this.attemptTimers.clear();
    const unnamed = this.active + this.held - lost.length;
    this.logger.warn({ count: this.active + this.held }, 'close timed out: abandoning deferred work still pending');
    for (const task of lost) this.drop(task, 'close-timeout');
    // Durable enqueues and merged jobs have no task left to name; they are counted in the warning above.
    this.droppedCount += Math.max(0, unnamed);
    this.held = 0;
    this.active = 0;
    this.local = 0;
  }

  // ----- scopes -------------------------------------------------------------------------

  middleware(): Middleware {
    return scopeMiddleware;
  }

  run<T>(fn: () => T, options?: RunOptions): Promise<Awaited<T>> {
    return runInScope(fn, options);
  }
}

function resolveDefinition(target: unknown): JobDefinition<unknown> {
  if (typeof target === 'string') {
    const def = getJobDefinition(target);
    if (def === undefined) throw new UnknownJobTypeError(target);
    return def;
  }
  if (target !== null && typeof target === 'object' && typeof (target as JobDefinition).name === 'string' && typeof (target as JobDefinition).run === 'function') {
    return target as JobDefinition<unknown>;
  }
  throw new InvalidArgumentError(`doLater expects a function or a job type (from defineJob), got ${describe(target)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as PromiseLike<unknown>).then === 'function';
}

function positiveInt(n: unknown, name: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got ${String(n)}`);
  return n;
}

function optionalFunction<F>(fn: F | undefined, name: string): F | undefined {
  if (fn !== undefined && typeof fn !== 'function') throw new InvalidArgumentError(`${name} must be a function`);
  return fn;
}

/**
 * Makes an instance with its own in-process queue and worker.
 * @throws InvalidArgumentError for a bad option (unknown keys included).
 * @example
 * const delayed = createDelayed({ concurrency: 2, taskTimeoutMs: 10_000, onError: (err, t) => log.error({ err, task: t.name }) });
 * app.use(delayed.middleware());
 * app.get('/', (req, res) => { delayed.doLater(track, req.url); res.send('ok'); });
 */
export function createDelayed(options: DelayedOptions = {}): Delayed {
  return new DelayedImpl(options);
}
