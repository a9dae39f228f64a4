import { InvalidJobOptionsError } from './errors.ts';
import type { Logger } from './logger.ts';
import { validateEnqueueOptions } from './prepare.ts';
import type { JobStatus } from './status.ts';
import type { Store } from './store.ts';
import type { EnqueueOptions, JobRecord } from './types.ts';

/** What `run` may return: nothing or `completed` completes the job; `wait_async` parks it. */
export type RunResult = void | undefined | 'completed' | 'wait_async';
/** The fate of a parked job, as `resolveWaitAsyncJob` reports it. */
export type WaitAsyncDisposition = 'completed' | 'wait_async' | 'failed';
/** What `resolveWaitAsync` may return: a disposition, or a failure with the reason to record as the job's error. */
export type WaitAsyncResolution = WaitAsyncDisposition | { status: 'failed'; error: string };

/** Passed to `run`, `cleanup` and `resolveWaitAsync`. */
export interface JobContext<P = unknown> {
  /** The managed-job record as claimed (status `running`, attempt number already incremented). */
  job: JobRecord<P>;
  /** The store the job lives in, e.g. to enqueue follow-up jobs. */
  store: Store;
  /** Aborted when the worker gives up on this attempt (hard shutdown, or the claim was lost). */
  signal: AbortSignal;
  /** A logger scoped to this job (job id, type, attempt). */
  logger: Logger;
}

/** What you pass to `defineJob`. */
export interface JobDefinitionInput<P> {
  /** Unique type name, stored with every job of this type. */
  name: string;
  /** Default enqueue options for this type; each enqueue may override them. */
  options?: EnqueueOptions;
  /** Derives the coalesce id from the payload; null/undefined means no coalescing. */
  coalesceId?: (payload: P) => string | null | undefined;
  /** Does the work. Return nothing or `completed` to complete, `wait_async` to park; throw to fail. */
  run(payload: P, ctx: JobContext<P>): RunResult | Promise<RunResult>;
  /** Decides the fate of a parked job when `resolveWaitAsyncJob` is called with the third party's data. */
  resolveWaitAsync?(payload: P, data: unknown, ctx: JobContext<P>): WaitAsyncResolution | Promise<WaitAsyncResolution>;
  /** Runs before a completed job is deleted (`deleteOnComplete`). Errors are logged, never fail the job. */
  cleanup?(payload: P, ctx: JobContext<P>): void | Promise<void>;
  /** Called on every status change of a job of this type, in the process that made the change. */
  statusDidChange?(job: JobRecord<P>, oldStatus: JobStatus, message: string | null): void | Promise<void>;
  /** A human description, for logs and the admin tool. */
  description?(payload: P): string;
}

/** A job type, as returned by `defineJob`. Pass it to `store.enqueue` and to `Worker({ jobs })`. */
export interface JobDefinition<P = unknown> extends Readonly<JobDefinitionInput<P>> {
  readonly options: Readonly<EnqueueOptions>;
}

const registry = new Map<string, JobDefinition<never>>();

/**
 * Defines a job type. The definition is also recorded in a process-wide registry by
 * name, so status hooks and `cleanup` run wherever the module that defines it was
 * loaded. Defining a name again replaces the earlier definition (code reloading, tests).
 */
export function defineJob<P>(input: JobDefinitionInput<P>): JobDefinition<P> {
  if (typeof input?.name !== 'string' || input.name.length === 0 || input.name.length > 255) {
    throw new InvalidJobOptionsError('name', 'a job type needs a non-empty name of at most 255 characters');
  }
  if (typeof input.run !== 'function') throw new InvalidJobOptionsError('run', `job type "${input.name}" needs a run function`);
  const options = Object.freeze(validateEnqueueOptions(input.options ?? {}));
  const def = Object.freeze({ ...input, options }) as JobDefinition<P>;
  registry.set(def.name, def as unknown as JobDefinition<never>);
  return def;
}

/** The definition registered under `name` in this process, if any. */
export function getJobDefinition(name: string): JobDefinition<unknown> | undefined {
  return registry.get(name) as JobDefinition<unknown> | undefined;
}
