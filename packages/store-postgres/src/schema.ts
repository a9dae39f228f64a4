/**
 * The jobs table in drizzle-orm. drizzle-kit generates the shipped migrations
 * from `jobs` (schema `jqjobs`, table `jobs`); `createJobsTable` builds the same
 * table under other names for drizzle users who configured the store with them.
 *
 * Column order is deliberate: PostgreSQL logs only the changed middle of a row
 * that is updated in place, so the columns a claim rewrites come last, and
 * `lease_until` (rewritten by every heartbeat) is the very last.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, check, doublePrecision, index, integer, json, pgSchema, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** Default PostgreSQL schema of the jobs table. */
export const DEFAULT_SCHEMA = 'jqjobs';
/** Default name of the jobs table. */
export const DEFAULT_TABLE = 'jobs';

const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });

/**
 * The jobs table under the given names. Object names (indexes, the id sequence,
 * the check constraint) are prefixed with the table name so several tables can
 * share a schema.
 */
export function createJobsTable<S extends string, T extends string>(schemaName: S, tableName: T) {
  return pgSchema(schemaName).table(
    tableName,
    {
      id: bigint('id', { mode: 'bigint' })
        .primaryKey()
        .generatedAlwaysAsIdentity({ name: `${tableName}_id_seq` }),
      type: text('type').notNull(),
      queueName: text('queue_name').notNull(),
      priority: integer('priority').notNull(),
      payload: json('payload').notNull(),
      maxAttempts: integer('max_attempts').notNull(),
      deleteOnComplete: boolean('delete_on_complete').notNull(),
      coalesceId: text('coalesce_id'),
      maxRuntimeSeconds: doublePrecision('max_runtime_seconds'),
      backoff: json('backoff'),
      createdAt: ts('created_at').notNull(),
      /** Public scheduled start; null after a restart. */
      startAt: ts('start_at'),
      /** Internal run time: `start_at`, or the restart time when that is null. The claim key. */
      runAt: ts('run_at').notNull(),
      /** `withLock` holder and its expiry (advisory; claims ignore it). */
      lockOwner: text('lock_owner'),
      lockUntil: ts('lock_until'),
      errorMessage: text('error_message'),
      endedAt: ts('ended_at'),
      status: text('status').notNull(),
      attemptNumber: integer('attempt_number').notNull().default(0),
      /** Bumped by every claim and restart; the claim token is its value. */
      claimSeq: integer('claim_seq').notNull().default(0),
      workerId: text('worker_id'),
      startedAt: ts('started_at'),
      leaseUntil: ts('lease_until'),
    },
    (t) => [
      check(`${tableName}_status_check`, sql`status in ('queued', 'running', 'wait_async', 'completed', 'failed')`),
      // Key order = claim order, so a claim reads the first due rows and stops. The
      // queue name trails the key so a claim for named queues tests it inside the
      // index, without visiting rows of other queues.
      index(`${tableName}_claim_idx`)
        .on(t.priority.desc().nullsFirst(), t.runAt.asc(), t.id.asc(), t.queueName.asc())
        .where(sql`status = 'queued'`),
      // Hung-job detection reads only running and parked jobs.
      index(`${tableName}_active_idx`).on(t.id.asc()).where(sql`status in ('running', 'wait_async')`),
      uniqueIndex(`${tableName}_coalesce_id_key`).on(t.coalesceId.asc()).where(sql`coalesce_id is not null`),
    ],
  );
}

/**
 * Offers of idle workers (see README, "Hand-off"): a worker waiting for work
 * registers one; the enqueue statement that finds a live matching offer inserts
 * its job already claimed for that worker and marks the offer taken (`job_id`).
 * The owner deletes its offers when its wait ends. The migration creates it
 * UNLOGGED (drizzle-orm cannot say so): an offer is worthless after a crash, so it
 * writes no WAL, and the owner re-registers it on its next wait.
 */
export function createOffersTable<S extends string, T extends string>(schemaName: S, tableName: T) {
  return pgSchema(schemaName).table(
    `${tableName}_offers`,
    {
      /** Chosen by the registering store (`<store token>.<n>`), so an offer whose registration reply was lost can still be withdrawn. */
      id: text('id').primaryKey(),
      workerId: text('worker_id').notNull(),
      /** Queues the worker takes; null = all. */
      queues: text('queues').array(),
      leaseMs: doublePrecision('lease_ms').notNull(),
      createdAt: ts('created_at').notNull(),
      /** After this the offer is not used (its wait has timed out). */
      deadline: ts('deadline').notNull(),
      /** The job handed over with this offer; null while the offer is open. */
      jobId: bigint('job_id', { mode: 'bigint' }),
      /**
       * A session advisory lock key the offering store's LISTEN connection holds:
       * while nobody holds it, the offer's process is gone and enqueues skip the
       * offer. Null (offers of stores from before 0003) counts as alive.
       */
      lockKey: bigint('lock_key', { mode: 'bigint' }),
    },
    // Enqueues take the oldest open offer.
    (t) => [index(`${tableName}_offers_idx`).on(t.createdAt.asc()).where(sql`job_id is null`)],
  );
}

/** The default PostgreSQL schema object (exported so drizzle-kit creates the schema). */
export const jqjobsSchema = pgSchema(DEFAULT_SCHEMA);

/** The jobs table under the default names (`"jqjobs"."jobs"`). */
export const jobs = createJobsTable(DEFAULT_SCHEMA, DEFAULT_TABLE);

/** The offers table under the default names (`"jqjobs"."jobs_offers"`). */
export const offers = createOffersTable(DEFAULT_SCHEMA, DEFAULT_TABLE);

/** A jobs table built by `createJobsTable`. */
export type JobsTable = ReturnType<typeof createJobsTable<string, string>>;
