import pg from 'pg';
import {
  ALL_STATUSES,
  BaseStore,
  type BaseStoreOptions,
  type Claim,
  type ClaimRequest,
  type ClaimedJob,
  type EnqueuedJob,
  InvalidArgumentError,
  InvalidJobOptionsError,
  isJobStatus,
  type JobFilter,
  type JobListOptions,
  JobNotFoundError,
  type JobRecord,
  type JobStatus,
  LIMITS,
  type LockAttempt,
  type NewJob,
  type Outcome,
  type QueueStats,
  type SettleResult,
  StoreClosedError,
  type StoreCapabilities,
  StoreConnectionError,
  newJobRecord,
} from '@jqjobs/core';
import { Batcher } from './batcher.ts';
import { copyable, copyFrom, copyTimestamp, encodeCopyRows } from './copy.ts';
import { DedicatedConnection } from './dedicated.ts';
import { wrapPgError } from './errors.ts';
import { Handoff } from './handoff.ts';
import { channelName, makeToken, parseJobId, parseToken, validateIdentifier, validateTableName } from './identifiers.ts';
import { applyMigrations } from './migrate.ts';
import { Notifier } from './notifier.ts';
import { checkStoredText, encodeNewJobs, encodeSettles, type JobRow, rowToJob, type SettleInput, storableText } from './rows.ts';
import { DEFAULT_SCHEMA, DEFAULT_TABLE } from './schema.ts';
import { buildStatements, type ClaimMode, JOB_COLUMN_COUNT, type SettleKind, type Sql, type Statements } from './sql.ts';

/** Where the store's connections come from. */
export type PostgresConnection =
  | {
      /** A `postgres://` URL; the store creates (and on `close()` ends) its own `pg.Pool`. */
      connectionString: string;
      /** Connections in the store's pool (one more is held for single enqueues, and one for LISTEN when `notify` is on). @default 10 */
      poolSize?: number;
      /** Give up connecting after this long, with a `StoreConnectionError`. @default 10000 */
      connectionTimeoutMillis?: number;
      /** Give up on a statement whose answer has not come back after this long (a server that vanished without closing the connection). @default 120000 */
      queryTimeoutMillis?: number;
    }
  | {
      /** Your own pool. The store borrows connections and never ends it; give it an `'error'` listener. */
      pool: pg.Pool;
    };

/** Options of `PostgresStore` (plus `clock`, `logger`, `lockTtlMs` from every store). */
export interface PostgresStoreOptions extends BaseStoreOptions {
  /** PostgreSQL schema of the jobs table: a plain identifier. @default 'jqjobs' */
  schema?: string;
  /** Name of the jobs table (indexes and the migrations table are named after it): a plain identifier, at most 48 characters. @default 'jobs' */
  table?: string;
  /**
   * Wake idle workers with LISTEN/NOTIFY. Turn it off behind PgBouncer in
   * transaction mode (LISTEN needs a session); workers then poll every `wakeupEvery`.
   * @default true
   */
  notify?: boolean;
  /** Use named prepared statements (parsed once per connection). Turn off for poolers that cannot keep them. @default true */
  preparedStatements?: boolean;
  /** Most jobs one batched enqueue, settle or claim statement carries. @default 1000 */
  maxBatchSize?: number;
}

/** Hung-job messages (stored as `errorMessage`), worded as the reference store words them. */
const LEASE_EXPIRED = 'hung: the worker stopped heartbeating (lease expired)';
const RUNTIME_EXCEEDED = 'hung: ran longer than maxRuntimeSeconds';

/** PostgreSQL's earliest timestamptz (4714-11-24 BC), in epoch ms. */
const MIN_TIMESTAMP_MS = -210_866_803_200_000;

interface WorkItem {
  settle?: { claim: Claim; seq: number; outcome: Outcome };
  next?: ClaimRequest;
}

interface SettleOutcome {
  applied: boolean;
  job: JobRecord | null;
}

interface WorkResult {
  settled: SettleOutcome | null;
  next: ClaimedJob[];
}

/** A job claimed through this store and not yet settled: what the claim returned, to build settle results without reading the row back. */
interface Held {
  seq: number;
  job: JobRecord;
}

const MAX_HELD = 100_000;
/** Batches at least this big go through COPY (three round trips, but far less work per row). */
const COPY_MIN_JOBS = 500;
const COPY_CHUNK_ROWS = 2_000;
/** A bulk load this big triggers one ANALYZE per store instance (see analyzeOnce). */
const ANALYZE_AFTER_ROWS = 1_000;

/**
 * A JQJobs store in PostgreSQL.
 *
 * @example
 * const store = new PostgresStore({ connectionString: process.env.DATABASE_URL! });
 * await store.migrate();
 * await store.enqueue(sendEmail, { to: 'a@example.com', subject: 'hi' });
 */
export class PostgresStore extends BaseStore {
  readonly capabilities: StoreCapabilities;
  /** The schema the jobs table lives in. */
  readonly schema: string;
  /** The jobs table's name. */
  readonly table: string;

  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  /** Single enqueues run here when it is free (see dedicated.ts); null on a user's pool. */
  private readonly dedicated: DedicatedConnection | null = null;
  private readonly sql: Statements;
  private readonly notify: boolean;
  private readonly prepared: boolean;
  private readonly maxBatch: number;
  private readonly notifier: Notifier;
  /** Offers of this store's idle workers and the jobs handed to them; null with `notify: false`. */
  private readonly handoff: Handoff | null;
  /** Enqueues hand jobs to idle workers' offers (off with `notify: false`, or when the offers table is missing). */
  private handoffOn: boolean;
  private readonly enqueueBatcher: Batcher<NewJob, EnqueuedJob>;
  private readonly workBatcher: Batcher<WorkItem, WorkResult>;
  private readonly held = new Map<string, Held>();
  /** Notification counter when each queue set last started a claim (see `Notifier.wait`). */
  private readonly claimMarks = new Map<string, number>();
  private closed = false;
  private closing: Promise<void> | null = null;
  private ended = false;

  constructor(connection: PostgresConnection, options: PostgresStoreOptions = {}) {
    super(options);
    if (connection === null || typeof connection !== 'object') throw new InvalidArgumentError('PostgresStore needs { connectionString } or { pool }');
    this.schema = validateIdentifier(options.schema ?? DEFAULT_SCHEMA, 'schema');
    this.table = validateTableName(options.table ?? DEFAULT_TABLE);
    this.notify = options.notify ?? true;
    this.prepared = options.preparedStatements ?? true;
    const maxBatch = options.maxBatchSize ?? 1000;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new InvalidArgumentError(`maxBatchSize must be a positive integer, got ${String(maxBatch)}`);
    this.maxBatch = maxBatch;
    if ('pool' in connection && connection.pool) {
      this.pool = connection.pool;
      this.ownsPool = false;
    } else if ('connectionString' in connection && typeof connection.connectionString === 'string') {
      const poolSize = connection.poolSize ?? 10;
      if (!Number.isInteger(poolSize) || poolSize < 1) throw new InvalidArgumentError(`poolSize must be a positive integer, got ${String(poolSize)}`);
      this.pool = new pg.Pool({
        connectionString: connection.connectionString,
        max: poolSize + 1 + (this.notify ? 1 : 0),
        connectionTimeoutMillis: connection.connectionTimeoutMillis ?? 10_000,
        query_timeout: connection.queryTimeoutMillis ?? 120_000,
        // Notice a peer that disappeared without a FIN (failover, network partition).
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      });
      // An idle connection dropped by the server (restart, failover) must not crash the process.
      this.pool.on('error', (err) => this.logger.warn({ err }, 'idle PostgreSQL connection failed; the pool will reconnect'));
      this.ownsPool = true;
      // Only on a pool of its own: holding one of a user's connections for good could starve the user's code.
      this.dedicated = new DedicatedConnection(this.pool, this.logger);
    } else {
      throw new InvalidArgumentError('PostgresStore needs { connectionString } or { pool }');
    }
    const channel = channelName(this.schema, this.table);
    this.sql = buildStatements(this.schema, this.table, channel);
    this.capabilities = Object.freeze({ pushWakeups: this.notify, sharedAcrossProcesses: true, durable: true });
    this.notifier = new Notifier(this.pool, channel, this.logger, this.notify, () => this.now());
    this.handoffOn = this.notify;
    this.handoff = this.notify
      ? new Handoff({
          logger: this.logger,
          notifier: this.notifier,
          now: () => this.now(),
          offer: async (offer, withdraw, purge) => {
            const rows = await this.query('waitForWork', this.sql.offer, {
              now: this.now(),
              withdraw: [...withdraw],
              purge,
              id: offer?.id ?? null,
              worker: offer ? storableText(offer.workerId) : null,
              queues: offer?.queues ? [...new Set(offer.queues)] : null,
              lease: offer?.leaseMs ?? 0,
              deadline: offer?.deadline ?? 0,
              lockKey: this.notifier.lockKey,
            }).catch((err: unknown) => {
              if (isOffersSchemaBehind(err)) this.handoffOn = false;
              throw err;
            });
            return rows.map((r) => [r[0] as string, r[1] as string | null]);
          },
          fetch: (ids) => this.query('claim', this.sql.byIds, { ids: [...ids] }),
          release: async (ids, seq) => {
            await this.query('release', this.sql.release(this.notify), { ids: [...ids], seqs: ids.map(() => seq) });
          },
          // SKIP_LOCKED: when another process is vacuuming it, that is enough.
          vacuum: async () => {
            if (!this.ended) await this.pool.query(`vacuum (skip_locked) ${this.sql.offersTable}`);
          },
        })
      : null;
    this.enqueueBatcher = new Batcher({ maxInFlight: 4, maxItems: maxBatch, run: (jobs) => this.insertBatch(jobs) });
    this.workBatcher = new Batcher({
      maxInFlight: 2,
      maxItems: maxBatch,
      key: (item) => (item.next ? claimKey(item.next) : null),
      run: (items) => this.runWork(items),
    });
  }

  /**
   * Creates or upgrades the jobs table. Safe to call from several processes at
   * once (an advisory lock serialises them); applied migrations are recorded in
   * `<schema>.<table>_migrations`.
   * @returns the migration tags applied by this call.
   */
  async migrate(): Promise<string[]> {
    this.assertOpen();
    return applyMigrations(this.pool, this.schema, this.table, this.logger);
  }

  // ----- enqueue -------------------------------------------------------------

  protected async insertJobs(jobs: readonly NewJob[]): Promise<EnqueuedJob[]> {
    this.assertOpen();
    for (const j of jobs) {
      checkStoredText(j.type, 'type');
      checkStoredText(j.queueName, 'queueName');
      checkStoredText(j.coalesceId, 'coalesceId');
      if (j.startAt !== null && j.startAt.getTime() < MIN_TIMESTAMP_MS) throw new InvalidJobOptionsError('startAt', 'before the earliest date PostgreSQL can store');
    }
    // Single enqueues made at the same time share one INSERT (one round trip, one commit).
    if (jobs.length === 1) return [await this.enqueueBatcher.push(jobs[0]!)];
    return this.insertBatch(jobs);
  }

  private async insertBatch(jobs: readonly NewJob[]): Promise<EnqueuedJob[]> {
    const out: (EnqueuedJob | undefined)[] = new Array(jobs.length);
    let pending = jobs.map((_, i) => i);
    for (let round = 0; pending.length > 0; round++) {
      // Each round resolves every job unless a coalesce id's holder vanished in between; that cannot go on for long.
      if (round === 20) throw new StoreConnectionError('PostgresStore.enqueue: coalescing kept racing with concurrent deletes; try again');
      pending = await this.insertRound(jobs, pending, out);
    }
    return out as EnqueuedJob[];
  }

  /**
   * Inserts jobs[indexes] in one statement. Returns the indexes still unresolved:
   * jobs whose coalesce id collided with a row this statement could not see (it
   * committed after the statement began) and that was gone again when looked up.
   */
  private async insertRound(jobs: readonly NewJob[], indexes: number[], out: (EnqueuedJob | undefined)[]): Promise<number[]> {
    const batch = indexes.length === jobs.length ? jobs : indexes.map((i) => jobs[i]!);
    const now = this.now();
    if (batch.length >= COPY_MIN_JOBS && copyable(batch)) {
      await this.copyInsert(batch, indexes, out, now);
      return [];
    }
    const hand = this.handoffOn ? handCandidate(batch, now) : -1;
    try {
      return await this.insertStatement(jobs, batch, indexes, out, now, hand);
    } catch (err) {
      if (hand < 0 || !isOffersSchemaBehind(err)) throw err;
      // Upgraded code on a table not migrated yet: enqueue without hand-offs until it is.
      this.handoffOn = false;
      this.logger.warn({ err }, `the offers table is missing or not migrated (run migrate()); enqueues do not hand jobs to idle workers meanwhile`);
      return this.insertStatement(jobs, batch, indexes, out, now, -1);
    }
  }

  /** `insertRound` after the COPY case; `hand` is the index of the job to hand to an idle worker's offer, or -1. */
  private async insertStatement(jobs: readonly NewJob[], batch: readonly NewJob[], indexes: number[], out: (EnqueuedJob | undefined)[], now: number, hand: number): Promise<number[]> {
    if (!batch.some((j) => j.coalesceId !== null)) {
      const values: Record<string, unknown> = { now, jobs: encodeNewJobs(batch), note: this.notify ? notePayload(batch, now) : null };
      if (hand >= 0) {
        values.hand = hand + 1;
        values.hq = batch[hand]!.queueName;
        const rest = batch.length === 1 ? '[]' : notePayload(batch.filter((_, k) => k !== hand), now);
        values.rest = rest === '*' ? '"*"' : rest;
      }
      // Its rows are (id, notify result): text both, so it can run lean.
      const rows = await this.query('enqueue', this.sql.insert(false, this.notify, hand >= 0), values, 'lean');
      const ids = rows.map((r) => r[0] as string);
      if (!isAscending(ids)) ids.sort(compareIds);
      for (let k = 0; k < batch.length; k++) out[indexes[k]!] = newJobRecord(ids[k]!, batch[k]!, now, false);
      if (!this.notify) this.announceLocally(batch, now);
      return [];
    }
    const rows = await this.query(
      'enqueue',
      this.sql.insert(true, this.notify, hand >= 0),
      hand >= 0 ? { now, jobs: encodeNewJobs(batch), hand: hand + 1, hq: batch[hand]!.queueName } : { now, jobs: encodeNewJobs(batch) },
      true,
    );
    rows.sort((a, b) => Number(a[0]) - Number(b[0]));
    const firstByCoalesce = new Map<string, { id: string; job: NewJob }>();
    const unseen: number[] = [];
    const inserted: NewJob[] = [];
    for (const r of rows) {
      const k = Number(r[0]) - 1;
      const nj = batch[k]!;
      const at = indexes[k]!;
      if (r[2] === true) {
        const id = r[1] as string;
        out[at] = newJobRecord(id, nj, now, false);
        inserted.push(nj);
        if (nj.coalesceId !== null) firstByCoalesce.set(nj.coalesceId, { id, job: nj });
      } else if (r[4] !== null) {
        out[at] = { ...rowToJob(r, 4).job, coalesced: true };
      } else {
        const first = nj.coalesceId === null ? undefined : firstByCoalesce.get(nj.coalesceId);
        if (first) out[at] = newJobRecord(first.id, first.job, now, true);
        else unseen.push(at);
      }
    }
    if (!this.notify && inserted.length > 0) this.announceLocally(inserted, now);
    if (unseen.length === 0) return [];
    // The conflicting rows committed after our snapshot: read them with a fresh one.
    const ids = [...new Set(unseen.map((i) => jobs[i]!.coalesceId!))];
    const found = await this.query('enqueue', this.sql.byCoalesceIds, { coalesceIds: ids });
    const byId = new Map<string, JobRecord>();
    for (const r of found) {
      const job = rowToJob(r).job;
      byId.set(job.coalesceId!, job);
    }
    const retry: number[] = [];
    for (const i of unseen) {
      const job = byId.get(jobs[i]!.coalesceId!);
      if (job) out[i] = { ...job, payload: structuredClone(job.payload), coalesced: true };
      else retry.push(i);
    }
    return retry;
  }

  /**
   * Big batches without coalesce ids: ids drawn first (while the rows are being
   * encoded), then one COPY (atomic on its own), records built while the server
   * copies, and one NOTIFY once the rows are visible.
   */
  private async copyInsert(batch: readonly NewJob[], indexes: number[], out: (EnqueuedJob | undefined)[], now: number): Promise<void> {
    this.assertOpen();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw wrapPgError(err, 'enqueueMany', this.sql.table);
    }
    let broken: Error | undefined;
    try {
      const idsQuery = client.query<unknown[]>(this.statement(this.sql.allocateIds, { n: batch.length }));
      const rows = encodeCopyRows(batch, copyTimestamp(now) ?? new Date(now).toISOString());
      const ids = ((await idsQuery).rows[0]![0] as string).split(',');
      if (!isAscending(ids)) ids.sort(compareIds);
      const chunks: string[] = [];
      for (let from = 0; from < rows.length; from += COPY_CHUNK_ROWS) {
        let chunk = '';
        const to = Math.min(rows.length, from + COPY_CHUNK_ROWS);
        for (let k = from; k < to; k++) chunk += `${rows[k]}${ids[k]}\n`;
        chunks.push(chunk);
      }
      const copy = copyFrom(client, this.sql.copy, chunks);
      // Build the records while the server copies.
      await copy.sent;
      const records: EnqueuedJob[] = new Array(batch.length);
      for (let k = 0; k < batch.length; k++) records[k] = newJobRecord(ids[k]!, batch[k]!, now, false);
      await copy.done;
      await this.analyzeOnce(client, batch.length);
      for (let k = 0; k < batch.length; k++) out[indexes[k]!] = records[k];
      if (this.notify) await client.query(this.statement(this.sql.notify, { note: notePayload(batch, now) }));
      else this.announceLocally(batch, now);
    } catch (err) {
      if (!(err instanceof Error && 'severity' in err)) broken = err instanceof Error ? err : new Error(String(err));
      throw wrapPgError(err, 'enqueueMany', this.sql.table);
    } finally {
      client.release(broken);
    }
  }

  private analyzed = false;

  /**
   * After the first big batch this store loads, refresh the planner's statistics.
   * A table filled faster than autovacuum runs still looks empty to the planner
   * (relpages 0), which then sorts every due row on each claim instead of reading
   * the claim index in order: 3.8 ms against 0.7 ms per claim with 10,000 queued.
   * Once analysed, autoanalyze (tuned by the migrations) keeps the numbers current.
   */
  private async analyzeOnce(client: pg.PoolClient, rows: number): Promise<void> {
    if (this.analyzed || rows < ANALYZE_AFTER_ROWS) return;
    this.analyzed = true;
    try {
      await client.query(`analyze ${this.sql.table}`);
    } catch (err) {
      this.logger.warn({ err }, 'could not analyze the jobs table after a bulk load; claims may be slower until autovacuum does');
    }
  }

  private announceLocally(jobs: readonly NewJob[], now: number): void {
    const byQueue = new Map<string, { queue: string; count: number; runAt: number }>();
    for (const j of jobs) {
      const runAt = j.startAt?.getTime() ?? now;
      const a = byQueue.get(j.queueName);
      if (a) {
        a.count++;
        a.runAt = Math.min(a.runAt, runAt);
      } else byQueue.set(j.queueName, { queue: j.queueName, count: 1, runAt });
    }
    this.notifier.announceLocal([...byQueue.values()]);
  }

  // ----- reads ---------------------------------------------------------------

  async get(id: string): Promise<JobRecord> {
    this.assertOpen();
    const jobId = parseJobId(id);
    if (jobId === null) throw new JobNotFoundError(String(id));
    const rows = await this.query('get', this.sql.get, { id: jobId });
    if (rows.length === 0) throw new JobNotFoundError(jobId);
    return rowToJob(rows[0]!).job;
  }

  async getByCoalesceId(coalesceId: string): Promise<JobRecord | null> {
    this.assertOpen();
    if (typeof coalesceId !== 'string') throw new InvalidArgumentError('getByCoalesceId expects a string');
    if (coalesceId.length === 0 || coalesceId.includes('\u0000')) return null;
    const rows = await this.query('getByCoalesceId', this.sql.getByCoalesceId, { coalesceId });
    return rows.length === 0 ? null : rowToJob(rows[0]!).job;
  }

  async count(filter: JobFilter = {}): Promise<number> {
    this.assertOpen();
    const f = checkFilter(filter);
    if (f.statuses?.length === 0) return 0;
    const rows = await this.query('count', this.sql.count, { queue: f.queue, statuses: f.statuses });
    return rows[0]![0] as number;
  }

  async jobs(options: JobListOptions = {}): Promise<JobRecord[]> {
    this.assertOpen();
    const f = checkFilter(options);
    const limit = options.limit ?? 100;
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 0) throw new InvalidArgumentError(`jobs: limit must be an integer ≥ 0, got ${String(limit)}`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`jobs: offset must be an integer ≥ 0, got ${String(offset)}`);
    if (limit === 0 || f.statuses?.length === 0) return [];
    const rows = await this.query('jobs', this.sql.list, { queue: f.queue, statuses: f.statuses, limit, offset });
    return rows.map((r) => rowToJob(r).job);
  }

  /**
   * Per-queue counts: one grouped scan of the table (about 0.35 s at a million
   * jobs here), so at most one runs per store at a time. A call made while one runs
   * waits for the next scan, which all such calls share: a scan already running
   * began before the call and could miss what the caller has just written.
   */
  async stats(): Promise<QueueStats[]> {
    this.assertOpen();
    let scan: Promise<QueueStats[]>;
    if (!this.statsRunning) scan = this.startStatsScan();
    else {
      this.statsNext ??= this.statsRunning
        .catch(() => undefined)
        .then(() => {
          this.statsNext = null;
          return this.startStatsScan();
        });
      scan = this.statsNext;
    }
    const stats = await scan;
    // Each caller gets its own copy: they are plain objects a caller may change.
    return stats.map((q) => ({ ...q, counts: { ...q.counts } }));
  }

  private statsRunning: Promise<QueueStats[]> | null = null;
  private statsNext: Promise<QueueStats[]> | null = null;

  private startStatsScan(): Promise<QueueStats[]> {
    const scan = this.readStats();
    this.statsRunning = scan;
    const done = () => {
      if (this.statsRunning === scan) this.statsRunning = null;
    };
    scan.then(done, done);
    return scan;
  }

  private async readStats(): Promise<QueueStats[]> {
    const now = this.now();
    const rows = await this.query('stats', this.sql.stats, { now });
    const byQueue = new Map<string, QueueStats>();
    for (const r of rows) {
      const queueName = r[0] as string;
      let s = byQueue.get(queueName);
      if (!s) {
        s = { queueName, counts: Object.fromEntries(ALL_STATUSES.map((st) => [st, 0])) as Record<JobStatus, number>, dueCount: 0, oldestQueuedAgeMs: null };
        byQueue.set(queueName, s);
      }
      s.counts[r[1] as JobStatus] = r[2] as number;
      s.dueCount += r[4] as number;
      if (r[3] !== null) s.oldestQueuedAgeMs = Math.max(0, now - Math.round(r[3] as number));
    }
    return [...byQueue.values()];
  }

  // ----- admin ---------------------------------------------------------------

  async restart(jobId: string): Promise<JobRecord> {
    this.assertOpen();
    const id = parseJobId(jobId);
    if (id === null) throw new JobNotFoundError(String(jobId));
    const rows = await this.query('restart', this.sql.restart(this.notify), { now: this.now(), id });
    if (rows.length === 0) throw new JobNotFoundError(id);
    const r = rows[0]!;
    const job = rowToJob(r, 1).job;
    this.held.delete(id);
    if (r[0] !== 'queued') this.emitStatusChange(job, r[0] as JobStatus, 'restarted');
    if (!this.notify) this.notifier.announceLocal([{ queue: job.queueName, count: 1, runAt: 0 }]);
    return job;
  }

  protected async removeJob(jobId: string): Promise<boolean> {
    this.assertOpen();
    const id = parseJobId(jobId);
    if (id === null) return false;
    const rows = await this.query('delete', this.sql.remove, { id });
    this.held.delete(id);
    return rows.length > 0;
  }

  async detectHungJobs(): Promise<number> {
    this.assertOpen();
    const rows = await this.query('detectHungJobs', this.sql.detectHung(this.notify), {
      now: this.now(),
      cap: LIMITS.mulliganCap,
      leaseMessage: LEASE_EXPIRED,
      runtimeMessage: RUNTIME_EXCEEDED,
    });
    let requeued = 0;
    for (const r of rows) {
      const job = rowToJob(r, 1).job;
      this.held.delete(job.id);
      if (job.status === 'queued') requeued++;
      this.emitStatusChange(job, r[0] as JobStatus, job.errorMessage);
    }
    if (!this.notify && requeued > 0) this.notifier.announceLocal([{ queue: null, count: requeued, runAt: 0 }]);
    return rows.length;
  }

  protected async tryLock(jobId: string, owner: string, ttlMs: number): Promise<LockAttempt> {
    this.assertOpen();
    const id = parseJobId(jobId);
    if (id === null) return 'missing';
    const rows = await this.query('withLock', this.sql.tryLock, { now: this.now(), id, owner, ttl: ttlMs });
    const r = rows[0]!;
    if ((r[0] as number) > 0) return 'acquired';
    return r[1] === true ? 'locked' : 'missing';
  }

  protected async unlock(jobId: string, owner: string): Promise<void> {
    const id = parseJobId(jobId);
    if (id === null) return;
    await this.query('withLock', this.sql.unlock, { id, owner });
  }

  // ----- worker primitives ---------------------------------------------------

  async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    checkClaimRequest(request);
    this.assertOpen();
    this.markClaim(request.queues);
    const handed = this.takeHanded(request);
    if (handed.length > 0) return handed;
    const r = await this.workBatcher.push({ next: request });
    return r.next;
  }

  /** Jobs handed to this store's offers that `request` may take: no round trip. */
  private takeHanded(request: ClaimRequest): ClaimedJob[] {
    const rows = this.handoff?.take(request.queues, request.limit) ?? [];
    return rows.map((row) => {
      this.hold(row);
      if (this.hasStatusListeners(row.job.type)) this.emitStatusChange(row.job, 'queued', null);
      return toClaimed({ row });
    });
  }

  async settle(claim: Claim, outcome: Outcome, next?: ClaimRequest): Promise<SettleResult> {
    this.assertOpen();
    checkOutcome(outcome);
    if (next !== undefined) {
      checkClaimRequest(next);
      this.markClaim(next.queues);
    }
    const id = claim && typeof claim === 'object' ? parseJobId(claim.jobId) : null;
    const seq = id !== null ? parseToken(id, claim.token) : null;
    if (id === null || seq === null) {
      // Not a claim this store could have issued: nothing to settle.
      const job = id === null ? null : await this.get(id).catch((err: unknown) => (err instanceof JobNotFoundError ? null : Promise.reject(err)));
      return { applied: false, job, next: next ? await this.claim(next) : [] };
    }
    const item: WorkItem = { settle: { claim: { jobId: id, token: claim.token }, seq, outcome } };
    const handed = next ? this.takeHanded(next) : [];
    if (next && handed.length === 0) item.next = next;
    const r = await this.workBatcher.push(item);
    if (item.next && r.next.length === 0 && r.settled!.applied && outcome.status === 'queued' && outcome.delayMs <= 0) {
      // The claim shared the settle's snapshot, so it could not see the job this settle
      // just put back as due: claim again rather than report an empty queue.
      return { applied: true, job: r.settled!.job, next: await this.claim(item.next) };
    }
    return { applied: r.settled!.applied, job: r.settled!.job, next: handed.length > 0 ? handed : r.next };
  }

  async settleWaitAsync(jobId: string, outcome: Outcome): Promise<SettleResult> {
    this.assertOpen();
    checkOutcome(outcome);
    const id = parseJobId(jobId);
    if (id === null) throw new JobNotFoundError(String(jobId));
    if (outcome.status === 'wait_async') {
      // wait_async -> wait_async is a no-op.
      const job = await this.get(id);
      return { applied: job.status === 'wait_async', job, next: [] };
    }
    const now = this.now();
    const s = settleInput(id, 0, outcome);
    const rows = await this.query('settleWaitAsync', this.sql.settleWaitAsync(this.notify), { now, settles: encodeSettles([s]) });
    if (rows.length === 0) return { applied: false, job: await this.get(id), next: [] };
    const r = rows[0]!;
    let job = rowToJob(r, 1).job;
    if (r[0] === 'd') job = { ...job, status: 'completed', endedAt: new Date(now) };
    this.emitStatusChange(job, 'wait_async', outcomeMessage(outcome));
    if (!this.notify && job.status === 'queued') this.notifier.announceLocal([{ queue: job.queueName, count: 1, runAt: now + s.delayMs }]);
    return { applied: true, job, next: [] };
  }

  async release(claims: readonly Claim[]): Promise<void> {
    this.assertOpen();
    if (!Array.isArray(claims)) throw new InvalidArgumentError('release expects an array of claims');
    const { ids, seqs } = splitClaims(claims);
    if (ids.length === 0) return;
    const rows = await this.query('release', this.sql.release(this.notify), { ids, seqs });
    for (const r of rows) {
      const job = rowToJob(r).job;
      this.held.delete(job.id);
      if (this.hasStatusListeners(job.type)) this.emitStatusChange(job, 'running', 'released by a stopping worker');
    }
    if (!this.notify && rows.length > 0) this.notifier.announceLocal([{ queue: null, count: rows.length, runAt: 0 }]);
  }

  async extendLeases(claims: readonly Claim[], leaseMs: number): Promise<string[]> {
    this.assertOpen();
    if (!Array.isArray(claims)) throw new InvalidArgumentError('extendLeases expects an array of claims');
    if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs < 0) throw new InvalidArgumentError(`leaseMs must be a number ≥ 0, got ${String(leaseMs)}`);
    const { ids, seqs, invalid } = splitClaims(claims);
    const lost = [...invalid];
    if (ids.length === 0) return lost;
    const rows = await this.query('extendLeases', this.sql.extendLeases, { now: this.now(), lease: leaseMs, ids, seqs });
    const kept = new Set(rows.map((r) => r[0] as string));
    for (const id of ids) if (!kept.has(id)) lost.push(id);
    return lost;
  }

  /**
   * Waits for a wake-up. With `request` and the LISTEN connection up, the wait also
   * registers an offer, so an enqueue can hand its job straight to this worker
   * (see README, "Hand-off"); the next `claim(request)` then returns it at once.
   */
  override async waitForWork(queues: readonly string[] | null, timeoutMs: number, signal?: AbortSignal, request?: ClaimRequest): Promise<void> {
    if (this.closed) return;
    // A job handed to an earlier wait is waiting here: claim it now.
    if (this.handoff?.has(queues)) return;
    const since = this.claimMarks.get(queuesKey(queues));
    if (request !== undefined && this.handoff && this.handoffOn && this.notifier.listening && timeoutMs > 0 && !signal?.aborted) {
      checkClaimRequest(request);
      // Something was announced since the last claim started: claim again instead of offering.
      if (since !== undefined && this.notifier.lastFor(queues) > since) return;
      return this.handoff.wait(request, String(request.workerId), timeoutMs, since, signal);
    }
    return this.notifier.wait(queues, timeoutMs, since, signal);
  }

  /** Releases the store's connections (never a pool you passed in). Waits for statements in flight. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      await Promise.all([this.enqueueBatcher.drained(), this.workBatcher.drained()]);
      await this.handoff?.close();
      await this.notifier.close();
      this.ended = true;
      this.dedicated?.close();
      if (this.ownsPool) await this.pool.end();
    })();
    return this.closing;
  }

  // ----- internals -----------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  private markClaim(queues: readonly string[] | null): void {
    this.claimMarks.set(queuesKey(queues), this.notifier.current);
  }

  private statement(sql: Sql, values: Record<string, unknown>): pg.QueryArrayConfig {
    const params = sql.params.map((p) => values[p] ?? null);
    return this.prepared ? { name: sql.name, text: sql.text, values: params, rowMode: 'array' } : { text: sql.text, values: params, rowMode: 'array' };
  }

  /**
   * Runs one statement. `dedicated`: on the store's enqueue connection when it is
   * free; `'lean'` also lets it skip pg's result handling (see lean-query.ts), for
   * statements whose columns are all read as text.
   */
  private async query(op: string, sql: Sql, values: Record<string, unknown>, dedicated: boolean | 'lean' = false): Promise<unknown[][]> {
    // Statements already batched when close() began still run; nothing after the pool is gone.
    if (this.ended) throw new StoreClosedError();
    try {
      const config = this.statement(sql, values);
      const held = dedicated === false ? null : (this.dedicated?.query(config, dedicated === 'lean' && this.prepared) ?? null);
      return held ? await held : (await this.pool.query<unknown[]>(config)).rows;
    } catch (err) {
      throw wrapPgError(err, op, this.sql.table);
    }
  }

  /** One batch of settles and claims (all claims share one claim key): one statement. */
  private async runWork(items: WorkItem[]): Promise<WorkResult[]> {
    const settles: SettleInput[] = [];
    let request: ClaimRequest | undefined;
    let limit = 0;
    let asked = 0;
    for (const item of items) {
      if (item.settle) settles.push(settleInput(item.settle.claim.jobId, item.settle.seq, item.settle.outcome));
      if (item.next) {
        request ??= item.next;
        asked += item.next.limit;
        // "Up to limit": one statement claims at most maxBatchSize jobs.
        limit = Math.min(asked, this.maxBatch);
      }
    }
    const mode: ClaimMode = request === undefined ? 'none' : request.queues === null ? 'all' : 'queues';
    const notifyRequeue = this.notify && settles.some((s) => s.kind === 'q');
    const now = this.now();
    const rows = await this.query(settles.length > 0 ? 'settle' : 'claim', this.sql.work(settles.length > 0, mode, notifyRequeue, mode === 'none' ? 0 : limit), {
      now,
      settles: settles.length > 0 ? encodeSettles(settles) : null,
      worker: request ? storableText(String(request.workerId)) : null,
      queues: request?.queues ? [...new Set(request.queues)] : null,
      lease: request?.leaseMs ?? 0,
    });

    const applied = new Map<string, JobStatus>();
    const claimed: { row: JobRow; runAt: number }[] = [];
    for (const r of rows) {
      switch (r[0]) {
        case 'c':
          claimed.push({ row: rowToJob(r, 3), runAt: r[3 + JOB_COLUMN_COUNT] as number });
          break;
        case 'd':
          applied.set(r[1] as string, 'completed');
          break;
        case 'u':
          applied.set(r[1] as string, r[2] as JobStatus);
          break;
      }
    }
    claimed.sort((a, b) => b.row.job.priority - a.row.job.priority || a.runAt - b.runAt || compareIds(a.row.job.id, b.row.job.id));
    // Capped below what was asked and filled: more may be due, though some callers get
    // fewer than they asked for. Their next wait must not sleep on that.
    if (request && asked > limit && claimed.length >= limit) this.claimMarks.set(queuesKey(request.queues), -1);

    // Settle results: built from what the claim returned; read back only what this store did not claim or did not apply.
    const outcomes: (SettleOutcome | null)[] = items.map(() => null);
    const reread: number[] = [];
    items.forEach((item, i) => {
      if (!item.settle) return;
      const { jobId } = item.settle.claim;
      const held = this.held.get(jobId);
      const ok = applied.has(jobId);
      if (ok && held && held.seq === item.settle.seq) {
        outcomes[i] = { applied: true, job: afterOutcome(held.job, item.settle.outcome, now) };
      } else {
        outcomes[i] = { applied: ok, job: null };
        reread.push(i);
      }
      this.held.delete(jobId);
    });
    if (reread.length > 0) {
      const ids = reread.map((i) => items[i]!.settle!.claim.jobId);
      const found = new Map((await this.query('settle', this.sql.byIds, { ids })).map((r) => [r[0] as string, rowToJob(r).job] as const));
      for (const i of reread) {
        const s = items[i]!.settle!;
        const current = found.get(s.claim.jobId) ?? null;
        // A deleted job is reported as completed, as the contract asks.
        outcomes[i]!.job = current ?? (outcomes[i]!.applied ? { ...placeholder(s.claim.jobId), status: 'completed', endedAt: new Date(now) } : null);
      }
    }

    // Events: running -> outcome for applied settles, queued -> running for claims.
    items.forEach((item, i) => {
      const o = outcomes[i];
      if (!item.settle || !o?.applied || !o.job || !this.hasStatusListeners(o.job.type)) return;
      this.emitStatusChange(o.job, 'running', outcomeMessage(item.settle.outcome));
    });
    for (const { row } of claimed) {
      this.hold(row);
      if (this.hasStatusListeners(row.job.type)) this.emitStatusChange(row.job, 'queued', null);
    }

    // Hand out the claimed jobs in order, each requester up to its limit.
    let at = 0;
    return items.map((item, i) => {
      let next: ClaimedJob[] = [];
      if (item.next) {
        next = claimed.slice(at, at + item.next.limit).map(toClaimed);
        at += next.length;
      }
      return { settled: outcomes[i] ?? null, next };
    });
  }

  private hold(row: JobRow): void {
    if (this.held.size >= MAX_HELD) {
      // Claims that were never settled here (e.g. dropped by a crashed caller); forget the oldest.
      const oldest = this.held.keys().next();
      if (!oldest.done) this.held.delete(oldest.value);
    }
    this.held.set(row.job.id, { seq: row.claimSeq, job: row.job });
  }
}

function toClaimed(r: { row: JobRow }): ClaimedJob {
  const c: ClaimedJob = { job: r.row.job, claim: { jobId: r.row.job.id, token: makeToken(r.row.job.id, r.row.claimSeq) } };
  if (r.row.payloadError !== undefined) c.payloadError = r.row.payloadError;
  return c;
}

function isAscending(ids: readonly string[]): boolean {
  for (let i = 1; i < ids.length; i++) if (compareIds(ids[i - 1]!, ids[i]!) > 0) return false;
  return true;
}

/** The NOTIFY payload for freshly inserted jobs: [[queue, count, earliest run time], …], or '*' past NOTIFY's size limit. */
function notePayload(jobs: readonly NewJob[], now: number): string {
  if (jobs.length === 1) {
    // The common single enqueue, without the grouping.
    const j = jobs[0]!;
    const text = `[[${JSON.stringify(j.queueName)},1,${j.startAt === null ? now : j.startAt.getTime()}]]`;
    return text.length < 2000 || Buffer.byteLength(text) < 7900 ? text : '*';
  }
  const byQueue = new Map<string, [string, number, number]>();
  for (const j of jobs) {
    const runAt = j.startAt === null ? now : j.startAt.getTime();
    const e = byQueue.get(j.queueName);
    if (e) {
      e[1]++;
      if (runAt < e[2]) e[2] = runAt;
    } else byQueue.set(j.queueName, [j.queueName, 1, runAt]);
  }
  const text = JSON.stringify([...byQueue.values()]);
  return Buffer.byteLength(text) < 7900 ? text : '*';
}

/**
 * The job of a batch an idle worker's offer may take: the first due job of the
 * highest priority (the one a claim would take first); -1 when none is due.
 */
function handCandidate(jobs: readonly NewJob[], now: number): number {
  let best = -1;
  for (let k = 0; k < jobs.length; k++) {
    const j = jobs[k]!;
    if (j.startAt !== null && j.startAt.getTime() > now) continue;
    if (best < 0 || j.priority > jobs[best]!.priority) best = k;
  }
  return best;
}

/** The offers table is missing (before migration 0002) or lacks `lock_key` (before 0003). */
function isOffersSchemaBehind(err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.message !== 'string') return false;
  return (cause.code === '42P01' && cause.message.includes('_offers')) || (cause.code === '42703' && cause.message.includes('lock_key'));
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function placeholder(id: string): JobRecord {
  return {
    id,
    type: '',
    payload: null,
    queueName: '',
    status: 'completed',
    priority: 0,
    attemptNumber: 0,
    maxAttempts: 1,
    coalesceId: null,
    maxRuntimeSeconds: null,
    deleteOnComplete: true,
    errorMessage: null,
    backoff: null,
    createdAt: new Date(0),
    startAt: null,
    startedAt: null,
    endedAt: null,
  };
}

function claimKey(r: ClaimRequest): string {
  return JSON.stringify([r.workerId, r.queues, r.leaseMs]);
}

function queuesKey(queues: readonly string[] | null): string {
  return queues === null ? '*' : JSON.stringify([...queues].sort());
}

function kindOf(outcome: Outcome): SettleKind {
  switch (outcome.status) {
    case 'completed':
      return outcome.delete ? 'd' : 'c';
    case 'wait_async':
      return 'w';
    case 'queued':
      return 'q';
    case 'failed':
      return 'f';
  }
}

function settleInput(id: string, seq: number, outcome: Outcome): SettleInput {
  const kind = kindOf(outcome);
  return {
    id,
    seq,
    kind,
    error: outcome.status === 'queued' || outcome.status === 'failed' ? storableText(String(outcome.error)) : null,
    delayMs: outcome.status === 'queued' ? Math.max(0, Math.ceil(outcome.delayMs)) : 0,
    maxAttempts: outcome.status === 'queued' ? outcome.maxAttempts : outcome.status === 'failed' ? (outcome.maxAttempts ?? null) : null,
  };
}

function outcomeMessage(outcome: Outcome): string | null {
  return outcome.status === 'queued' || outcome.status === 'failed' ? storableText(String(outcome.error)) : null;
}

/** The record after an applied settle, from the record the claim returned (nothing else can change a held job). */
function afterOutcome(job: JobRecord, outcome: Outcome, now: number): JobRecord {
  switch (outcome.status) {
    case 'completed':
      return { ...job, status: 'completed', endedAt: new Date(now) };
    case 'wait_async':
      return { ...job, status: 'wait_async' };
    case 'queued': {
      const at = new Date(now + Math.max(0, Math.ceil(outcome.delayMs)));
      return { ...job, status: 'queued', errorMessage: storableText(String(outcome.error)), startAt: at, maxAttempts: outcome.maxAttempts, endedAt: null };
    }
    case 'failed':
      return { ...job, status: 'failed', errorMessage: storableText(String(outcome.error)), endedAt: new Date(now), maxAttempts: outcome.maxAttempts ?? job.maxAttempts };
  }
}

function checkOutcome(outcome: Outcome): void {
  const ok =
    outcome !== null &&
    typeof outcome === 'object' &&
    ((outcome.status === 'completed' && typeof outcome.delete === 'boolean') ||
      outcome.status === 'wait_async' ||
      (outcome.status === 'queued' &&
        typeof outcome.error === 'string' &&
        typeof outcome.delayMs === 'number' &&
        Number.isFinite(outcome.delayMs) &&
        Number.isInteger(outcome.maxAttempts) &&
        outcome.maxAttempts >= 1 &&
        outcome.maxAttempts <= LIMITS.maxAttempts + LIMITS.mulliganCap) ||
      (outcome.status === 'failed' &&
        typeof outcome.error === 'string' &&
        (outcome.maxAttempts === undefined || (Number.isInteger(outcome.maxAttempts) && outcome.maxAttempts >= 1 && outcome.maxAttempts <= LIMITS.maxAttempts + LIMITS.mulliganCap))));
  if (!ok) throw new InvalidArgumentError(`invalid outcome: ${safeJson(outcome)}`);
}

function checkClaimRequest(r: ClaimRequest): void {
  if (r === null || typeof r !== 'object') throw new InvalidArgumentError('claim expects a ClaimRequest');
  if (!Number.isInteger(r.limit) || r.limit < 1) throw new InvalidArgumentError(`claim: limit must be a positive integer, got ${String(r.limit)}`);
  if (typeof r.leaseMs !== 'number' || !Number.isFinite(r.leaseMs) || r.leaseMs < 0) throw new InvalidArgumentError(`claim: leaseMs must be a number ≥ 0, got ${String(r.leaseMs)}`);
  if (typeof r.workerId !== 'string') throw new InvalidArgumentError('claim: workerId must be a string');
  if (r.queues !== null && (!Array.isArray(r.queues) || r.queues.some((q) => typeof q !== 'string' || q.length === 0))) {
    throw new InvalidArgumentError('claim: queues must be null or an array of non-empty strings');
  }
}

function checkFilter(filter: JobFilter): { queue: string | null; statuses: string[] | null } {
  if (filter === null || typeof filter !== 'object') throw new InvalidArgumentError('expected a filter object');
  const queue = filter.queueName ?? null;
  if (queue !== null && typeof queue !== 'string') throw new InvalidArgumentError('queueName must be a string');
  let statuses: string[] | null = null;
  if (filter.status !== undefined) {
    const list = Array.isArray(filter.status) ? filter.status : [filter.status];
    for (const s of list) if (!isJobStatus(s)) throw new InvalidArgumentError(`unknown status ${safeJson(s)}`);
    statuses = (list as string[]).filter((s) => s !== 'unqueued');
  }
  // Text PostgreSQL cannot store cannot match a stored queue.
  return { queue: queue !== null && queue.includes('\u0000') ? '\u0001nomatch\u0001' : queue, statuses };
}

function splitClaims(claims: readonly Claim[]): { ids: string[]; seqs: number[]; invalid: string[] } {
  const ids: string[] = [];
  const seqs: number[] = [];
  const invalid: string[] = [];
  for (const c of claims) {
    const id = c && typeof c === 'object' ? parseJobId(c.jobId) : null;
    const seq = id !== null ? parseToken(id, c.token) : null;
    if (id === null || seq === null) invalid.push(String(c?.jobId));
    else {
      ids.push(id);
      seqs.push(seq);
    }
  }
  return { ids, seqs, invalid };
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
