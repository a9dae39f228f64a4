export { JobStatus, ALL_STATUSES, canTransition, assertTransition, isJobStatus } from './status.ts';
export {
  JQJobsError,
  JobNotFoundError,
  JobLockedError,
  InvalidStateChangeError,
  InvalidStateError,
  InvalidJobOptionsError,
  PayloadNotSerializableError,
  PayloadTooLargeError,
  UnknownJobTypeError,
  StoreError,
  StoreConnectionError,
  StoreClosedError,
  InvalidArgumentError,
  type JQJobsErrorCode,
} from './errors.ts';
export type {
  JsonValue,
  BackoffOption,
  EnqueueOptions,
  JobRecord,
  EnqueuedJob,
  NewJob,
  JobFilter,
  JobListOptions,
  QueueStats,
  Clock,
  StatusChangeListener,
} from './types.ts';
export { systemClock } from './types.ts';
export { defineJob, getJobDefinition, type JobDefinition, type JobDefinitionInput, type JobContext, type RunResult, type WaitAsyncDisposition, type WaitAsyncResolution } from './define-job.ts';
export { prepareJob, newJobRecord, validateEnqueueOptions, serializePayload, parseStartAt, mulliganMaxAttempts, backoffDelayMs, LIMITS } from './prepare.ts';
export type { Store, StoreCapabilities, EnqueueItem, ClaimRequest, Claim, ClaimedJob, Outcome, SettleResult, LockContext } from './store.ts';
export { BaseStore, runCleanup, abortableSleep, type BaseStoreOptions, type LockAttempt } from './base-store.ts';
export { resolveWaitAsyncJob, errorText, type ResolveWaitAsyncOptions } from './wait-async.ts';
export { Worker, type WorkerOptions, type WorkerEvents, type StopReason } from './worker.ts';
export { createLogger, silentLogger, resolveLogger, childLogger, type Logger, type LogLevel } from './logger.ts';
export { normalizeStatusFilter, normalizePage, isCanonicalId } from './filters.ts';
export { runWorkerProcess, WorkerExitCode, type WorkerProcessOptions } from './process.ts';
export { HandoffStash } from './handoff-stash.ts';
