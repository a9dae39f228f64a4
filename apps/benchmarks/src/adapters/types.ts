/**
 * The one interface every queue under test implements, so each scenario runs
 * the same code against every adapter.
 */

/** The payload of every benchmark job: a sequence number and the enqueue-call start time. */
export interface BenchPayload {
  /** Sequence number within the measurement. */
  i: number;
  /** `performance.now()` when the enqueue call started (same process), for pickup latency. */
  t: number;
}

/** Runs at the start of every job; returns at once (no-op jobs). */
export type BenchHandler = (payload: BenchPayload) => void;

export type Backend = 'memory' | 'postgres' | 'redis';

/** Where a measurement's data lives: a fresh database / Redis db made by the harness for it alone. */
export interface Target {
  /** Connection string of a database created for this measurement (postgres adapters). */
  pgUrl: string;
  /** Redis host, port and logical db (flushed before and after the measurement). */
  redis: { host: string; port: number; db: number; url: string };
}

export interface QueueAdapter {
  readonly name: AdapterName;
  readonly backend: Backend;
  /** Connects and installs the schema (migrations) in the target. Idempotent across instances on one target. */
  setup(): Promise<void>;
  /** Enqueues one job, one round trip as an application would. */
  enqueue(payload: BenchPayload): Promise<void>;
  /** Enqueues many jobs with the queue's bulk API. */
  enqueueBulk(payloads: readonly BenchPayload[]): Promise<void>;
  /** Starts consuming in this process with `concurrency` jobs in flight; resolves once the workers are running. */
  startWorkers(concurrency: number, handler: BenchHandler): Promise<void>;
  /** Stops the workers gracefully (in-flight jobs settle). */
  stop(): Promise<void>;
  /** Closes every client and pool the adapter opened. */
  teardown(): Promise<void>;
}

export const ADAPTERS = ['jqjobs-memory', 'jqjobs-postgres', 'jqjobs-redis', 'graphile-worker', 'pg-boss', 'bullmq', 'bee-queue'] as const;
export type AdapterName = (typeof ADAPTERS)[number];

/** Ours, as opposed to the anchors (the queues users would otherwise pick). */
export const OURS: readonly AdapterName[] = ['jqjobs-memory', 'jqjobs-postgres', 'jqjobs-redis'];

export const BACKEND: Record<AdapterName, Backend> = {
  'jqjobs-memory': 'memory',
  'jqjobs-postgres': 'postgres',
  'jqjobs-redis': 'redis',
  'graphile-worker': 'postgres',
  'pg-boss': 'postgres',
  bullmq: 'redis',
  'bee-queue': 'redis',
};

export const QUEUE_NAME = 'bench';

