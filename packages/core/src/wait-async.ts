import { runCleanup } from './base-store.ts';
import { getJobDefinition, type JobDefinition, type WaitAsyncDisposition } from './define-job.ts';
import { InvalidArgumentError, InvalidStateError, UnknownJobTypeError } from './errors.ts';
import { type Logger, type LogLevel, resolveLogger } from './logger.ts';
import type { Outcome, Store } from './store.ts';

/** Options for `resolveWaitAsyncJob`. */
export interface ResolveWaitAsyncOptions {
  /** When `resolveWaitAsync` throws: true fails the job with the error's message; false rethrows and leaves it `wait_async`. @default false */
  convertExceptionToFailure?: boolean;
  /** Job definitions to look the type up in; defaults to every type defined in this process. */
  jobs?: readonly JobDefinition<never>[];
  logger?: Logger | LogLevel;
}

const DISPOSITIONS = new Set<string>(['completed', 'wait_async', 'failed']);

/**
 * Closes out a parked (`wait_async`) job with data from the third party that did
 * the work: locks the job, calls its type's `resolveWaitAsync(payload, data)` and
 * applies the disposition it returns, which is also returned. The lock is
 * released on every path.
 * @throws InvalidStateError (with `.status`) when the job is not `wait_async`;
 *   JobNotFoundError; JobLockedError; UnknownJobTypeError; the resolver's own error
 *   unless `convertExceptionToFailure`.
 */
export async function resolveWaitAsyncJob(store: Store, jobId: string, data: unknown, options: ResolveWaitAsyncOptions = {}): Promise<WaitAsyncDisposition> {
  const logger = resolveLogger(options.logger);
  return store.withLock(jobId, async (job) => {
    if (job.status !== 'wait_async') throw new InvalidStateError(job.id, job.status, 'wait_async');
    const def = (options.jobs?.find((d) => d.name === job.type) as JobDefinition<unknown> | undefined) ?? getJobDefinition(job.type);
    if (!def) throw new UnknownJobTypeError(job.type);
    if (!def.resolveWaitAsync) throw new InvalidArgumentError(`job type "${job.type}" has no resolveWaitAsync`);
    const ctx = { job, store, signal: new AbortController().signal, logger };
    let disposition: WaitAsyncDisposition;
    let failure = `${job.type}.resolveWaitAsync returned failed`;
    try {
      const r = await def.resolveWaitAsync(job.payload, data, ctx);
      if (typeof r === 'object' && r !== null && r.status === 'failed' && typeof r.error === 'string') {
        disposition = 'failed';
        failure = r.error;
      } else if (DISPOSITIONS.has(r as string)) {
        disposition = r as WaitAsyncDisposition;
      } else {
        throw new Error(`Invalid return value from ${job.type}.resolveWaitAsync: ${describeValue(r)}`);
      }
    } catch (err) {
      if (!options.convertExceptionToFailure) throw err;
      await apply(store, job.id, { status: 'failed', error: errorText(err) });
      return 'failed';
    }
    if (disposition === 'wait_async') return disposition; // wait_async -> wait_async is a no-op
    if (disposition === 'completed') {
      if (job.deleteOnComplete) await runCleanup(job, store, logger);
      await apply(store, job.id, { status: 'completed', delete: job.deleteOnComplete });
    } else {
      await apply(store, job.id, { status: 'failed', error: failure });
    }
    return disposition;
  });
}

async function apply(store: Store, jobId: string, outcome: Outcome): Promise<void> {
  const r = await store.settleWaitAsync(jobId, outcome);
  // Hung-job detection or a restart may have moved the job while the resolver ran.
  if (!r.applied) throw new InvalidStateError(jobId, r.job?.status ?? 'deleted', 'wait_async');
}

function describeValue(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** The message of an error-like value. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}
