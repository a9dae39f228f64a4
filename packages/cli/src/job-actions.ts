/**
 * The admin actions shared by the `jqjobs` commands and the dashboard, so both
 * mean the same thing by "retry" and "restart".
 *
 * - restart: any status (running and wait_async included) → queued, attempt
 *   counter reset, schedule cleared. A running job's claim ends; the late result
 *   of that run is discarded by the store. For "run this again now, whatever it
 *   is doing".
 * - retry: only a failed job → queued, with a fresh set of attempts (it is a
 *   restart guarded by the status, taken under the job's lock). Anything else is
 *   refused with InvalidStateError, so `retry --queue q` can never re-run a job
 *   that is queued, running or parked.
 */
import { InvalidArgumentError, InvalidStateError, type JobDefinition, type JobRecord, type Store, type WaitAsyncDisposition, resolveWaitAsyncJob } from '@jqjobs/core';

export async function restartJob(store: Store, id: string): Promise<JobRecord> {
  return store.restart(id);
}

export async function retryJob(store: Store, id: string): Promise<JobRecord> {
  return store.withLock(id, async (job) => {
    if (job.status !== 'failed') throw new InvalidStateError(job.id, job.status, 'failed');
    return store.restart(job.id);
  });
}

export async function deleteJob(store: Store, id: string): Promise<void> {
  await store.delete(id);
}

export interface ResolveOptions {
  /** Job types to look the job's type up in (besides those defined in this process). */
  jobs?: readonly JobDefinition<never>[];
  /** Fail the job when its resolver throws, instead of leaving it wait_async. */
  convertExceptionToFailure?: boolean;
}

export async function resolveJob(store: Store, id: string, data: unknown, options: ResolveOptions = {}): Promise<WaitAsyncDisposition> {
  return resolveWaitAsyncJob(store, id, data, {
    ...(options.jobs ? { jobs: options.jobs } : {}),
    convertExceptionToFailure: options.convertExceptionToFailure ?? false,
  });
}

/** Parses resolve data; the error names what was wrong in one line. */
export function parseJsonData(text: string, what = 'data'): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new InvalidArgumentError(`${what} is not valid JSON: ${reason}`);
  }
}
