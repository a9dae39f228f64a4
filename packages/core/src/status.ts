import { InvalidStateChangeError } from './errors.ts';

/** The statuses a managed job moves through. */
export const JobStatus = {
  Unqueued: 'unqueued',
  Queued: 'queued',
  Running: 'running',
  WaitAsync: 'wait_async',
  Completed: 'completed',
  Failed: 'failed',
} as const;

/** One of the six status strings. */
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];

/** Every status, in lifecycle order. */
export const ALL_STATUSES: readonly JobStatus[] = Object.freeze(Object.values(JobStatus));

const TRANSITIONS: Readonly<Record<JobStatus, ReadonlySet<JobStatus>>> = {
  unqueued: new Set<JobStatus>(['queued']),
  queued: new Set<JobStatus>(['running']),
  running: new Set<JobStatus>(['wait_async', 'completed', 'failed', 'queued']),
  // wait_async -> wait_async is allowed as a no-op (a resolver may re-park the job).
  wait_async: new Set<JobStatus>(['running', 'completed', 'failed', 'queued', 'wait_async']),
  completed: new Set<JobStatus>(),
  failed: new Set<JobStatus>(['queued']),
};

/** True when a job may move from `from` to `to`. A status to itself is allowed only for `wait_async`. */
export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from]?.has(to) ?? false;
}

/** Throws `InvalidStateChangeError` unless `from -> to` is allowed. */
export function assertTransition(from: JobStatus, to: JobStatus, jobId?: string): void {
  if (!canTransition(from, to)) throw new InvalidStateChangeError(from, to, jobId);
}

/** True for a string that names a status. */
export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === 'string' && Object.hasOwn(TRANSITIONS, value);
}
