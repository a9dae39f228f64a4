import type { BackoffOption, EnqueueOptions, Logger, LogLevel, Store } from '@jqjobs/core';

/** What a deferred task is: a function with its arguments, or a job of a defined type. */
export type TaskKind = 'function' | 'job';

/** Describes a task to `onError`. */
export interface TaskInfo {
  kind: TaskKind;
  /** The function's name (`anonymous` when it has none) or the job type. */
  name: string;
  /** The job's id in the store that ran or received it; null when it never got one. */
  jobId: string | null;
  /** The attempt that failed (1 for the first); 0 when the task failed before running (enqueue). */
  attempt: number;
  maxAttempts: number;
  /** True when another attempt will follow. */
  willRetry: boolean;
}

/**
 * Why a task was not kept:
 * - `queue-full`: `maxQueue` tasks were already pending;
 * - `closed`: `doLater` after `close()`;
 * - `close-timeout`: still pending when `close({ timeoutMs })` gave up.
 */
export type DropReason = 'queue-full' | 'closed' | 'close-timeout';

/** Describes a dropped task to `onDrop`. */
export interface DropInfo {
  kind: TaskKind;
  name: string;
  reason: DropReason;
  /** Tasks pending (held, queued or running) when it was dropped. */
  pending: number;
  maxQueue: number;
}

/** Receives a promise the platform must keep the process alive for (Vercel, Cloudflare `ctx.waitUntil`, …). */
export type WaitUntil = (promise: Promise<void>) => void;

/** Options of `createDelayed`. */
export interface DelayedOptions {
  /** Deferred tasks running at once. A positive integer. @default 4 */
  concurrency?: number;
  /**
   * Most tasks pending at once: held by scopes, queued, or running. Past it,
   * `doLater` drops the task, calls `onDrop` and returns false, so a burst cannot
   * grow memory without bound. A positive integer. @default 10000
   */
  maxQueue?: number;
  /** Called for every dropped task. Errors it throws are logged and swallowed. @default none (a warning is logged once per burst) */
  onDrop?: (info: DropInfo) => void;
  /**
   * Called with the error of every failed attempt: a throw, a rejection, or a
   * `TaskTimeoutError`. Errors it throws are logged and swallowed. Failures are
   * also logged through `logger`. @default none
   */
  onError?: (error: unknown, info: TaskInfo) => void;
  /** A pino-compatible logger or a level name. @default 'warn' (to stderr) */
  logger?: Logger | LogLevel;
  /** Milliseconds one attempt may run before it fails with `TaskTimeoutError`; null for no limit. @default 30000 */
  taskTimeoutMs?: number | null;
  /** Attempts for function tasks (`doLater(fn, ...args)`); job types use their own `maxAttempts`. @default 1 */
  maxAttempts?: number;
  /** Delay between attempts of function tasks. @default 0 */
  backoff?: BackoffOption | null;
  /**
   * Called, each time a scope hands work over, with a promise that settles when
   * this instance is idle again. Pass the platform's `waitUntil` on serverless
   * runtimes that freeze the process after the response. @default none
   */
  waitUntil?: WaitUntil;
  /** Where jobs deferred with `{ durable: true }` are enqueued. @default none (`durable: true` throws) */
  durableStore?: Store;
  /**
   * When work deferred outside any scope runs: at `beforeExit` (after the
   * script's own code, the right thing for scripts and CLIs), or at once
   * (`'immediate'`, for servers that defer work from timers or consumers without
   * `run()`). @default 'beforeExit'
   */
  outsideScope?: 'beforeExit' | 'immediate';
}

/** Options of `doLater(jobType, payload, options)`: the enqueue options, plus `durable`. */
export interface DoLaterJobOptions extends EnqueueOptions {
  /** Enqueue into `durableStore` instead of the in-process queue; the job then runs wherever that store's workers run. @default false */
  durable?: boolean;
}

/** Options of `close`. */
export interface CloseOptions {
  /** How long pending work may take to finish before it is abandoned (and reported to `onDrop`). @default 10000 */
  timeoutMs?: number;
}

/** Options of `run`. */
export interface RunOptions {
  /** A per-unit `waitUntil` (e.g. Cloudflare's `ctx.waitUntil`), in addition to the instance's. */
  waitUntil?: WaitUntil;
}

/** The part of a response the middleware needs: node:http's `ServerResponse`, Express's and Connect's have it. */
export interface ResponseLike {
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

/** A `(req, res, next)` handler for node:http, Express and Connect. */
export type Middleware = (req: unknown, res: ResponseLike, next: (err?: unknown) => void) => void;

/** A Fastify-style callback hook: `fastify.addHook('onRequest', delayed.onRequest)`. */
export type FastifyStyleHook = (request: object, reply: unknown, done: (err?: Error) => void) => void;
