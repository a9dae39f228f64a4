import { randomBytes } from 'node:crypto';
import {
  ALL_STATUSES,
  BaseStore,
  type BaseStoreOptions,
  type Claim,
  type ClaimRequest,
  type ClaimedJob,
  type EnqueuedJob,
  HandoffStash,
  InvalidArgumentError,
  isCanonicalId,
  newJobRecord,
  type JobFilter,
  type JobListOptions,
  JobNotFoundError,
  type JobRecord,
  type JobStatus,
  LIMITS,
  type LockAttempt,
  type NewJob,
  normalizePage,
  normalizeStatusFilter,
  type Outcome,
  type QueueStats,
  type SettleResult,
  StoreClosedError,
  StoreConnectionError,
  type StoreCapabilities,
} from '@jqjobs/core';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { CODE_BY_STATUS, decodeJob, packRecord, packStrings, STATUS_BY_CODE } from './codec.ts';
import { ConnectionLostError, PayloadTooLargeError, wrapRedisError } from './errors.ts';
import { type KeyLayout, keyLayout } from './keys.ts';
import type { ScriptName } from './lua.ts';
import { type Arg, type Client, ScriptRunner } from './scripts.ts';
import { Waiter } from './waiter.ts';

/** How the store reaches Redis: a URL (the store opens and closes its own connections) or a client you own. */
export type RedisConnection =
  | {
      /** `redis://[user:password@]127.0.0.1:6379[/db]` or `rediss://…` for TLS. */
      url: string;
      /** Extra ioredis options for the connections the store opens. */
      redisOptions?: RedisOptions;
    }
  | {
      /** An ioredis `Redis` or `Cluster` client. The store never closes it; it opens duplicates of it for blocking wake-ups and closes those. */
      client: Redis | Cluster;
    };

/** Options for `RedisStore`. */
export interface RedisStoreOptions extends BaseStoreOptions {
  /**
   * Namespace of every key. Keys are `{<prefix>}:…`, so the prefix is also the
   * Redis Cluster hash tag: all keys of a store live in one slot. Must not contain
   * `{` or `}`. Two stores with the same prefix share their jobs.
   * @default 'jq'
   */
  prefix?: string;
  /** Largest accepted payload, in bytes of JSON (UTF-8). Bigger payloads are refused with `PayloadTooLargeError`. @default 1048576 (1 MiB) */
  maxPayloadBytes?: number;
  /** Longest single blocking call of an idle worker, in ms; it then renews its offer. Every blocking call is finite. @default 2000 */
  blockTimeoutMs?: number;
  /**
   * On connections the store opens from a URL: a connection that owes a reply and
   * receives nothing for this long is considered dead and replaced; its pending
   * commands fail with `ConnectionLostError`. Keep it above your slowest call
   * (a large `enqueueMany` runs as one script).
   * @default 15000
   */
  replyTimeoutMs?: number;
  /** Name given to the connections the store opens (`CLIENT SETNAME`), suffixed `:cmd` / `:wait`. @default 'jqjobs' */
  connectionName?: string;
  /** Warn at start-up when the server's `maxmemory-policy` is not `noeviction` (evictions would lose jobs). @default true */
  checkEvictionPolicy?: boolean;
}

const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Redis refuses single arguments over 512 MB. */
const MAX_PAYLOAD_LIMIT = 512 * 1024 * 1024 - 64 * 1024;
/** Most settles and claims one script call takes. */
const WORK_BATCH = 500;
/** Most jobs one enqueue script call takes when it combines calls made together. */
const INSERT_BATCH = 1000;
/** Claim data kept for settles (queue, coalesce id) is dropped beyond this many open claims. */
const CLAIM_CACHE_MAX = 100_000;
const HUNG_LEASE_MESSAGE = 'hung: the worker stopped heartbeating (lease expired)';
const RELEASE_MESSAGE = 'released by a stopping worker';
/** Lease of a job handed to an idle worker whose claim request is not known yet (the Worker's default). */
const DEFAULT_LEASE_MS = 30_000;
/** A job handed to an idle worker that does not claim it within this time goes back to its queue. */
const STASH_MAX_AGE_MS = 1000;
/** How long a command waits for a (re)connecting connection before it fails. */
const READY_WAIT_MS = 3000;

/** What the store remembers about a claim it handed out, so the settle needs no extra read. */
interface OpenClaim {
  job: JobRecord;
  queue: string;
  coalesceId: string;
  maxRuntime: boolean;
}

/** An insertJobs call waiting for the next batch. */
interface InsertOp {
  jobs: readonly NewJob[];
  resolve: (jobs: EnqueuedJob[]) => void;
  reject: (err: Error) => void;
}

/** A settle and/or claim waiting for the next batch. */
interface WorkOp {
  settle: { claim: Claim; enc: EncodedOutcome; open: OpenClaim | undefined } | null;
  next: ClaimRequest | null;
  resolve: (reply: WorkReply) => void;
  reject: (err: Error) => void;
  result?: WorkReply;
}


interface WorkReply {
  applied: boolean;
  record: Buffer | null;
  claimed: ClaimedJob[];
  /** The store time the batch ran with. */
  now: number;
}

interface Inflight {
  reject: (err: Error) => void;
  epoch: number;
  /** When it was written (wall clock ms), for the reply watchdog. */
  at: number;
}

/**
 * A store on Redis (standalone or Cluster) through ioredis. Every state change is
 * one Lua script; settling a job and claiming the next one is a single call.
 *
 * @example
 * const store = new RedisStore({ url: 'redis://127.0.0.1:6379' }, { prefix: 'myapp' });
 * await store.enqueue(sendEmail, { to: 'a@example.com' });
 * await new Worker(store, { jobs: [sendEmail] }).start();
 */
export class RedisStore extends BaseStore {
  readonly capabilities: StoreCapabilities = { pushWakeups: true, sharedAcrossProcesses: true, durable: true };
  /** The key prefix (also the hash tag). */
  readonly prefix: string;

  private readonly client: Client;
  private readonly ownsClient: boolean;
  private readonly keys: KeyLayout;
  private readonly scripts: ScriptRunner;
  private readonly waiter: Waiter;
  private readonly maxPayloadBytes: number;
  private readonly openClaims = new Map<string, OpenClaim>();
  /** Settles whose reply was lost: a retry that finds the job already in that state counts as applied. */
  private readonly uncertainSettles = new Map<string, Outcome>();
  private readonly tokenBase = randomBytes(6).toString('hex');
  private tokenSeq = 0;
  private readonly inflight = new Set<Inflight>();
  private workQueue: WorkOp[] = [];
  /** Jobs claimed for this store's idle workers by another call's script, until a claim takes them. */
  private readonly stash = new HandoffStash<ClaimedJob>((cj) => cj.job.queueName);
  private readonly stashSweep: NodeJS.Timeout;
  private watchdog: NodeJS.Timeout | undefined;
  /** The latest claim request per queue set: an idle worker's offer claims with it. */
  private readonly lastRequests = new Map<string, ClaimRequest>();
  private insertQueue: InsertOp[] = [];
  private epoch = 0;
  private recoverTokens: string[] = [];
  private ready: Promise<void> | null = null;
  private lastError: unknown = null;
  /** When our own connection stopped being ready (wall time); Infinity while it is ready. */
  private downSince = Date.now();
  private recovering: Promise<void> | null = null;
  private closed = false;

  constructor(connection: RedisConnection, options: RedisStoreOptions = {}) {
    super(options);
    if (!connection || typeof connection !== 'object') throw new InvalidArgumentError('RedisStore needs { url } or { client }');
    this.prefix = options.prefix ?? 'jq';
    this.keys = keyLayout(this.prefix);
    const max = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(max) || max < 1 || max > MAX_PAYLOAD_LIMIT) {
      throw new InvalidArgumentError(`maxPayloadBytes must be an integer from 1 to ${MAX_PAYLOAD_LIMIT}, got ${String(max)}`);
    }
    this.maxPayloadBytes = max;
    const blockMaxMs = options.blockTimeoutMs ?? 2000;
    if (!Number.isFinite(blockMaxMs) || blockMaxMs < 10) throw new InvalidArgumentError('blockTimeoutMs must be a number ≥ 10');
    const name = options.connectionName ?? 'jqjobs';
    const replyTimeoutMs = options.replyTimeoutMs ?? 15_000;
    if (!Number.isFinite(replyTimeoutMs) || replyTimeoutMs < 100) throw new InvalidArgumentError('replyTimeoutMs must be a number ≥ 100');
    if (!/^[^\s]+$/.test(name)) throw new InvalidArgumentError('connectionName must be a non-empty string without spaces');

    let connect: () => Client;
    if ('client' in connection && connection.client) {
      this.client = connection.client;
      this.ownsClient = false;
      const user = connection.client;
      connect = () =>
        (user as Cluster).isCluster
          ? (user as Cluster).duplicate([], { redisOptions: { ...(user as Cluster).options.redisOptions, autoResendUnfulfilledCommands: false } })
          : (user as Redis).duplicate({ connectionName: `${name}:wait`, autoResendUnfulfilledCommands: false, maxRetriesPerRequest: null });
    } else if ('url' in connection && typeof connection.url === 'string') {
      const { url, redisOptions = {} } = connection;
      const base: RedisOptions = {
        // A lost reply must not be replayed: a replayed claim would take a second job.
        autoResendUnfulfilledCommands: false,
        connectTimeout: 5000,
        ...redisOptions,
      };
      // Commands are written only on a ready connection (see send()), so each one is either
      // surely not sent or followed until its reply or the loss of its connection.
      this.client = new Redis(url, { ...base, enableOfflineQueue: false, connectionName: `${name}:cmd` });
      // The watchdog of this connection: a command unanswered for replyTimeoutMs means it is dead.
      this.watchdog = setInterval(() => this.checkReplies(replyTimeoutMs), Math.max(50, Math.floor(replyTimeoutMs / 4)));
      this.watchdog.unref();
      this.ownsClient = true;
      this.client.on('error', (err: unknown) => {
        this.lastError = err;
        this.logger.debug({ err }, 'redis connection error');
      });
      this.client.on('close', () => this.failInflight());
      this.client.on('ready', () => {
        this.downSince = Infinity;
        void this.flushRecover();
      });
      connect = () => new Redis(url, { ...base, maxRetriesPerRequest: null, connectionName: `${name}:wait` });
    } else {
      throw new InvalidArgumentError('RedisStore needs { url } or { client }');
    }

    this.scripts = new ScriptRunner(this.keys.base);
    const isCluster = (this.client as Cluster).isCluster === true;
    let mailboxes = 0;
    this.waiter = new Waiter({
      clock: this.clock,
      logger: this.logger,
      connect,
      mailbox: () => `${this.keys.base}:mb:${this.tokenBase}-${++mailboxes}`,
      offer: async (conn, queues, deadline, mailbox, prefix) => {
        const req = this.lastRequests.get(queuesKey(queues));
        const args: Arg[] = [this.ms(), Math.ceil(deadline), mailbox, Math.ceil(req?.leaseMs ?? DEFAULT_LEASE_MS), prefix, String(req?.workerId ?? ''), ...queueArgs(queues)];
        const reply = (await this.scripts.run(conn, 'offer', args)) as (Buffer | number)[];
        if (reply[0] === 1) return { claimed: reply.slice(1) as Buffer[] };
        const due = String(reply[2]);
        return { offer: reply[1] as Buffer, nextDue: due === '+inf' ? Infinity : Number(due) };
      },
      cancel: async (offer, mailbox) => (await this.exec('cancel', [this.ms(), offer, mailbox])) as Buffer[],
      deliver: (message) => this.deliver(message),
      tokenPrefix: () => `${this.tokenBase}${(this.tokenSeq++).toString(36)}.`,
      lost: (prefix) => {
        this.recoverTokens.push(`${prefix}1`);
        void this.flushRecover();
      },
      unblock: isCluster ? null : (id) => (this.client as Redis).client('UNBLOCK', id),
      blockMaxMs,
      watchdogGraceMs: 3000,
    });
    this.stashSweep = setInterval(() => this.sweepStash(), STASH_MAX_AGE_MS);
    this.stashSweep.unref();
    if (options.checkEvictionPolicy ?? true) void this.checkEvictionPolicy();
  }

  // ----- inserts ---------------------------------------------------------------

  protected insertJobs(jobs: readonly NewJob[]): Promise<EnqueuedJob[]> {
    this.assertOpen();
    for (const j of jobs) {
      const bytes = Buffer.byteLength(j.payloadJson, 'utf8');
      if (bytes > this.maxPayloadBytes) return Promise.reject(new PayloadTooLargeError(bytes, this.maxPayloadBytes));
    }
    return new Promise<EnqueuedJob[]>((resolve, reject) => {
      this.insertQueue.push({ jobs, resolve, reject });
      if (this.insertQueue.length === 1) process.nextTick(() => this.flushInserts());
    });
  }

  /**
   * Enqueues made in the same tick (say, many `enqueue` calls in flight) share one
   * script call, up to INSERT_BATCH jobs; a call is never split, so `enqueueMany`
   * stays all or nothing, and coalescing across calls in a batch works as if they
   * had come one after another.
   */
  private flushInserts(): void {
    const queue = this.insertQueue;
    this.insertQueue = [];
    let batch: InsertOp[] = [];
    let size = 0;
    for (const op of queue) {
      if (size > 0 && size + op.jobs.length > INSERT_BATCH) {
        this.insertBatch(batch);
        batch = [];
        size = 0;
      }
      batch.push(op);
      size += op.jobs.length;
    }
    if (batch.length > 0) this.insertBatch(batch);
  }

  private insertBatch(ops: InsertOp[]): void {
    const now = this.ms();
    const jobs = ops.length === 1 ? ops[0]!.jobs : ops.flatMap((op) => op.jobs);
    const args: Arg[] = [now, jobs.length];
    const fields: (Buffer | string)[] = [];
    for (const j of jobs) {
      const runAt = j.startAt ? j.startAt.getTime() : now;
      const record = packRecord([
        CODE_BY_STATUS.queued,
        j.type,
        j.payloadJson,
        j.queueName,
        j.priority,
        0,
        j.maxAttempts,
        now,
        runAt,
        true,
        j.deleteOnComplete,
        false,
        false,
        false,
        j.coalesceId ?? false,
        j.maxRuntimeSeconds ?? false,
        j.backoff === null ? false : JSON.stringify(j.backoff),
      ]);
      fields.push(record, j.queueName, String(j.priority), j.startAt ? String(runAt) : '', j.coalesceId ?? '');
    }
    // One job: its fields as ARGV. More: as one packed argument (see packStrings).
    if (jobs.length === 1) args.push(...fields);
    else args.push(packStrings(fields));
    this.exec('enqueue', args).then(
      (value) => {
        let out: EnqueuedJob[];
        try {
          out = this.inserted(jobs, value as (Buffer | number | null)[], now);
        } catch (err) {
          for (const op of ops) op.reject(err as Error);
          return;
        }
        let at = 0;
        for (const op of ops) {
          op.resolve(ops.length === 1 ? out : out.slice(at, at + op.jobs.length));
          at += op.jobs.length;
        }
      },
      (err: unknown) => {
        for (const op of ops) op.reject(err as Error);
      },
    );
  }

  /** The enqueue script's reply as records: new jobs from what was sent, others as stored. */
  private inserted(jobs: readonly NewJob[], reply: (Buffer | number | null)[], now: number): EnqueuedJob[] {
    const out: EnqueuedJob[] = [];
    for (let i = 0; i < jobs.length; i++) {
      const kind = String(reply[i * 3]);
      const ref = String(reply[i * 3 + 1]);
      if (kind === 'n') {
        const j = jobs[i]!;
        out.push(newJobRecord(ref, j, now, false));
      } else if (kind === 'e') {
        out.push({ ...decodeJob(ref, reply[i * 3 + 2] as Buffer).record, coalesced: true });
      } else {
        const first = out[Number(ref) - 1]!;
        out.push({ ...first, payload: JSON.parse(JSON.stringify(first.payload)) as unknown, coalesced: true });
      }
    }
    return out;
  }

  // ----- reads -------------------------------------------------------------------

  async get(id: string): Promise<JobRecord> {
    this.assertOpen();
    if (!isCanonicalId(id)) throw new JobNotFoundError(String(id));
    let raw: Buffer | null;
    try {
      raw = await this.send(() => this.client.hgetBuffer(this.keys.record(id), id));
    } catch (err) {
      throw wrapRedisError(err, 'get');
    }
    if (!raw) throw new JobNotFoundError(id);
    return decodeJob(id, raw).record;
  }

  async getByCoalesceId(coalesceId: string): Promise<JobRecord | null> {
    this.assertOpen();
    if (typeof coalesceId !== 'string') throw new InvalidArgumentError('getByCoalesceId expects a string');
    if (coalesceId.length === 0) return null;
    const reply = (await this.exec('byCoalesce', [this.ms(), coalesceId])) as Buffer[] | null;
    if (!reply) return null;
    return decodeJob(reply[0]!.toString(), reply[1]!).record;
  }

  async count(filter: JobFilter = {}): Promise<number> {
    this.assertOpen();
    const codes = statusCodes(normalizeStatusFilter(filter?.status));
    const queue = queueFilter(filter?.queueName);
    if (queue === null) return 0;
    return Number(await this.exec('count', [this.ms(), queue, codes]));
  }

  async jobs(options: JobListOptions = {}): Promise<JobRecord[]> {
    this.assertOpen();
    const statuses = normalizeStatusFilter(options?.status);
    let { limit, offset } = normalizePage(options ?? {});
    const queue = queueFilter(options?.queueName);
    if (limit === 0 || queue === null) return [];
    const codes = statusCodes(statuses);
    const out: JobRecord[] = [];
    if (statuses !== null && !statuses.includes('queued')) {
      const reply = (await this.exec('listIndex', [this.ms(), queue, codes, offset, limit])) as Buffer[];
      for (let i = 0; i < reply.length; i += 2) out.push(decodeJob(reply[i]!.toString(), reply[i + 1]!).record);
      return out;
    }
    let chunk = 0;
    for (;;) {
      const reply = (await this.exec('listScan', [this.ms(), queue, codes, offset, limit, chunk, 64])) as (Buffer | number)[];
      offset -= Number(reply[0]);
      const next = Number(reply[1]);
      for (let i = 2; i < reply.length; i += 2) out.push(decodeJob(String(reply[i]), reply[i + 1] as Buffer).record);
      limit -= (reply.length - 2) / 2;
      if (limit <= 0 || next < 0) return out;
      chunk = next;
    }
  }

  async stats(): Promise<QueueStats[]> {
    this.assertOpen();
    const now = this.ms();
    const reply = (await this.exec('stats', [now])) as (Buffer | number | null)[];
    const out: QueueStats[] = [];
    for (let i = 0; i < reply.length; i += 8) {
      const counts = { unqueued: 0, queued: 0, running: 0, wait_async: 0, completed: 0, failed: 0 } as Record<JobStatus, number>;
      for (let c = 1; c <= 5; c++) counts[STATUS_BY_CODE[c]!] = Number(reply[i + c]);
      const oldest = reply[i + 6];
      out.push({
        queueName: String(reply[i]),
        counts,
        dueCount: Math.max(0, counts.queued - Number(reply[i + 7])),
        oldestQueuedAgeMs: oldest === null || oldest === undefined ? null : Math.max(0, now - Number(String(oldest))),
      });
    }
    return out.sort((a, b) => (a.queueName < b.queueName ? -1 : a.queueName > b.queueName ? 1 : 0));
  }

  // ----- admin -------------------------------------------------------------------

  async restart(jobId: string): Promise<JobRecord> {
    this.assertOpen();
    if (!isCanonicalId(jobId)) throw new JobNotFoundError(String(jobId));
    const reply = (await this.exec('restart', [this.ms(), jobId])) as [number, Buffer?];
    if (reply[0] === -1) throw new JobNotFoundError(jobId);
    const rec = decodeJob(jobId, reply[1]!).record;
    const old = STATUS_BY_CODE[reply[0]]!;
    if (old !== 'queued') this.emitStatusChange(rec, old, 'restarted');
    return rec;
  }

  protected async removeJob(jobId: string): Promise<boolean> {
    this.assertOpen();
    if (!isCanonicalId(jobId)) return false;
    return Number(await this.exec('remove', [this.ms(), jobId])) === 1;
  }

  async detectHungJobs(): Promise<number> {
    this.assertOpen();
    const reply = (await this.exec('hung', [this.ms(), LIMITS.mulliganCap, HUNG_LEASE_MESSAGE])) as (number | Buffer)[];
    let n = 0;
    for (let i = 0; i < reply.length; i += 4) {
      n++;
      const { record } = decodeJob(String(reply[i + 1]), reply[i + 2] as Buffer);
      if (this.hasStatusListeners(record.type)) this.emitStatusChange(record, STATUS_BY_CODE[Number(reply[i])]!, String(reply[i + 3]));
    }
    return n;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // Jobs claimed by calls whose reply was lost go back to the queue before we leave.
    if (this.recoverTokens.length > 0) await Promise.race([this.flushRecover(), new Promise((r) => setTimeout(r, 2000).unref())]);
    clearInterval(this.stashSweep);
    clearInterval(this.watchdog);
    await this.waiter.close();
    if (this.stash.size > 0) await this.releaseStash(this.stash.takeAll()).catch(() => undefined);
    this.closed = true;
    this.openClaims.clear();
    if (this.ownsClient) {
      try {
        await Promise.race([this.client.quit(), new Promise((r) => setTimeout(r, 2000).unref())]);
      } catch {
        // Closing a connection that is already down.
      }
      this.client.disconnect();
    }
  }

  // ----- locks -------------------------------------------------------------------

  protected async tryLock(jobId: string, owner: string, ttlMs: number): Promise<LockAttempt> {
    this.assertOpen();
    if (!isCanonicalId(jobId)) return 'missing';
    const reply = await this.exec('lock', [this.ms(), jobId, owner, Math.ceil(ttlMs)]);
    return String(reply) as LockAttempt;
  }

  protected async unlock(jobId: string, owner: string): Promise<void> {
    if (!isCanonicalId(jobId) || this.closed) return;
    await this.exec('unlock', [this.ms(), jobId, owner]);
  }

  // ----- worker primitives -------------------------------------------------------

  async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    this.assertOpen();
    validateClaimRequest(request);
    this.lastRequests.set(queuesKey(request.queues), request);
    if (this.stash.size > 0) {
      const handed = this.stash.take(request.queues, request.limit);
      if (handed.length > 0) {
        this.reportClaimed(handed);
        return handed;
      }
    }
    const reply = await this.work({ settle: null, next: request });
    this.reportClaimed(reply.claimed);
    return reply.claimed;
  }

  async settle(claim: Claim, outcome: Outcome, next?: ClaimRequest): Promise<SettleResult> {
    this.assertOpen();
    if (!claim || typeof claim.jobId !== 'string' || typeof claim.token !== 'string') throw new InvalidArgumentError('settle needs a claim { jobId, token }');
    const enc = encodeOutcome(outcome);
    if (next) validateClaimRequest(next);
    const open = this.openClaims.get(claim.token);
    let reply: WorkReply;
    try {
      reply = await this.work({ settle: { claim, enc, open }, next: next ?? null });
    } catch (err) {
      if (err instanceof StoreConnectionError) {
        if (this.uncertainSettles.size >= CLAIM_CACHE_MAX) this.uncertainSettles.delete(this.uncertainSettles.keys().next().value!);
        this.uncertainSettles.set(claim.token, outcome);
      }
      throw err;
    }
    this.openClaims.delete(claim.token);
    let applied = reply.applied;
    const raw = reply.record;
    let job: JobRecord | null;
    if (applied && raw === null && open) {
      job = { ...open.job, status: 'completed', endedAt: new Date(reply.now) };
    } else {
      job = raw ? decodeJob(claim.jobId, raw).record : null;
    }
    if (this.uncertainSettles.size > 0) {
      const uncertain = this.uncertainSettles.get(claim.token);
      this.uncertainSettles.delete(claim.token);
      // Our earlier attempt was applied and only its reply was lost.
      if (uncertain && !applied && alreadyApplied(uncertain, job)) {
        applied = true;
        if (!job && open) job = { ...open.job, status: 'completed', endedAt: new Date(reply.now) };
      }
    }
    if (applied && job && this.hasStatusListeners(job.type)) {
      this.emitStatusChange(job, 'running', outcome.status === 'queued' || outcome.status === 'failed' ? outcome.error : null);
    }
    this.reportClaimed(reply.claimed);
    return { applied, job, next: reply.claimed };
  }

  async settleWaitAsync(jobId: string, outcome: Outcome): Promise<SettleResult> {
    this.assertOpen();
    if (!isCanonicalId(jobId)) throw new JobNotFoundError(String(jobId));
    const enc = encodeOutcome(outcome);
    const reply = (await this.exec('settleWait', [this.ms(), jobId, enc.code, enc.error, enc.delayMs, enc.maxAttempts])) as [number, Buffer?];
    if (reply[0] === -1) throw new JobNotFoundError(jobId);
    const job = reply[1] ? decodeJob(jobId, reply[1]).record : null;
    const applied = reply[0] === 1;
    if (applied && job && outcome.status !== 'wait_async') {
      this.emitStatusChange(job, 'wait_async', outcome.status === 'queued' || outcome.status === 'failed' ? outcome.error : null);
    }
    return { applied, job, next: [] };
  }

  async release(claims: readonly Claim[]): Promise<void> {
    this.assertOpen();
    if (!Array.isArray(claims)) throw new InvalidArgumentError('release expects an array of claims');
    if (claims.length === 0) return;
    const args: Arg[] = [this.ms(), claims.length];
    for (const c of claims) {
      args.push(String(c.jobId), String(c.token));
      this.openClaims.delete(c.token);
    }
    const reply = (await this.exec('release', args)) as Buffer[];
    for (let i = 0; i < reply.length; i += 2) {
      const { record } = decodeJob(reply[i]!.toString(), reply[i + 1]!);
      if (this.hasStatusListeners(record.type)) this.emitStatusChange(record, 'running', RELEASE_MESSAGE);
    }
  }

  async extendLeases(claims: readonly Claim[], leaseMs: number): Promise<string[]> {
    this.assertOpen();
    if (!Array.isArray(claims)) throw new InvalidArgumentError('extendLeases expects an array of claims');
    if (!Number.isFinite(leaseMs) || leaseMs < 0) throw new InvalidArgumentError('leaseMs must be a number ≥ 0');
    if (claims.length === 0) return [];
    const args: Arg[] = [this.ms(), Math.ceil(leaseMs), claims.length];
    for (const c of claims) args.push(String(c.jobId), String(c.token), this.openClaims.get(c.token)?.queue ?? '');
    const lost = ((await this.exec('extend', args)) as Buffer[]).map((b) => b.toString());
    if (lost.length > 0) {
      const lostIds = new Set(lost);
      for (const c of claims) if (lostIds.has(c.jobId)) this.openClaims.delete(c.token);
    }
    return lost;
  }

  override async waitForWork(queues: readonly string[] | null, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return;
    // A job handed to an earlier wait is waiting here: the worker should claim now.
    if (this.stash.has(queues)) return;
    try {
      await this.waiter.wait(queues === null ? null : dedupe(queues), timeoutMs, signal);
    } catch (err) {
      throw wrapRedisError(err, 'waitForWork');
    }
  }

  // ----- internals -----------------------------------------------------------------

  /**
   * Queues a settle and/or claim for the next tick. Everything a worker's slots ask
   * for in the same tick goes to Redis as one script call: one round trip, one
   * write, and the claims of a group share their reads and writes in Redis.
   */
  private work(op: Pick<WorkOp, 'settle' | 'next'>): Promise<WorkReply> {
    return new Promise<WorkReply>((resolve, reject) => {
      this.workQueue.push({ settle: op.settle, next: op.next, resolve, reject });
      if (this.workQueue.length === 1) process.nextTick(() => this.flushWork());
    });
  }

  private flushWork(): void {
    const queue = this.workQueue;
    this.workQueue = [];
    // Bounded calls: a script blocks Redis while it runs, and Lua unpacks at most a few thousand values.
    for (let i = 0; i < queue.length; i += WORK_BATCH) this.workBatch(queue.slice(i, i + WORK_BATCH));
  }

  private workBatch(ops: WorkOp[]): void {
    const now = this.ms();
    const args: Arg[] = [now, 0];
    let settles = 0;
    for (const op of ops) {
      const st = op.settle;
      if (!st) continue;
      settles++;
      const { claim, enc, open } = st;
      args.push(claim.jobId, claim.token, enc.code, enc.error, enc.delayMs, enc.maxAttempts, open?.queue ?? '', open?.coalesceId ?? '', open?.maxRuntime ? 1 : 0);
    }
    args[1] = settles;
    // Claims with the same request (a worker's slots) form one group.
    const groups = new Map<string, { request: ClaimRequest; limit: number; ops: WorkOp[] }>();
    for (const op of ops) {
      const r = op.next;
      if (!r) continue;
      this.lastRequests.set(queuesKey(r.queues), r);
      const key = `${r.workerId}\u0000${r.leaseMs}\u0000${r.queues === null ? '\u0001' : r.queues.join('\u0000')}`;
      const g = groups.get(key);
      if (g) {
        g.limit += r.limit;
        g.ops.push(op);
      } else groups.set(key, { request: r, limit: r.limit, ops: [op] });
    }
    args.push(groups.size);
    const tokens: string[] = [];
    for (const g of groups.values()) {
      const prefix = `${this.tokenBase}${(this.tokenSeq++).toString(36)}.`;
      for (let i = 1; i <= g.limit; i++) tokens.push(prefix + i);
      const q = g.request.queues;
      args.push(g.limit, String(g.request.workerId ?? ''), Math.ceil(g.request.leaseMs), prefix, ...queueArgs(q === null ? null : dedupe(q)));
    }
    this.exec('work', args, tokens).then(
      (value) => {
        const reply = value as (Buffer | number | null)[];
        const results: WorkReply[] = [];
        let i = 0;
        for (const op of ops) {
          const result: WorkReply = { applied: false, record: null, claimed: [], now };
          if (op.settle) {
            result.applied = reply[i] === 1;
            result.record = reply[i + 1] as Buffer | null;
            i += 2;
          }
          results.push(result);
          op.result = result;
        }
        for (const g of groups.values()) {
          const n = Number(reply[i]);
          const jobs = this.claimed(reply, i + 1, n);
          i += 1 + 3 * n;
          // Hand the claimed jobs out in request order, each op up to its own limit.
          let at = 0;
          for (const op of g.ops) {
            const take = Math.min(op.next!.limit, jobs.length - at);
            if (take > 0) op.result!.claimed = take === jobs.length ? jobs : jobs.slice(at, at + take);
            at += Math.max(0, take);
          }
        }
        for (let k = 0; k < ops.length; k++) ops[k]!.resolve(results[k]!);
      },
      (err: unknown) => {
        for (const op of ops) op.reject(err as Error);
      },
    );
  }

  /** Parses `n` claimed jobs (id, token, record triples from `start`) and remembers them for their settle. */
  private claimed(reply: (Buffer | number | null)[], start: number, n: number): ClaimedJob[] {
    const out: ClaimedJob[] = [];
    for (let i = start; i < start + 3 * n; i += 3) {
      const id = String(reply[i]);
      const token = String(reply[i + 1]);
      const decoded = decodeJob(id, reply[i + 2] as Buffer);
      const job = decoded.record;
      if (this.openClaims.size >= CLAIM_CACHE_MAX) this.openClaims.delete(this.openClaims.keys().next().value!);
      this.openClaims.set(token, { job, queue: job.queueName, coalesceId: job.coalesceId ?? '', maxRuntime: job.maxRuntimeSeconds !== null });
      const cj: ClaimedJob = decoded.payloadError === undefined ? { job, claim: { jobId: id, token } } : { job, claim: { jobId: id, token }, payloadError: decoded.payloadError };
      out.push(cj);
    }
    return out;
  }

  /** Takes a wake-up message: a job claimed for us (`c|id|token|record`) goes to the stash for the next claim. */
  private deliver(message: Buffer): void {
    if (message[0] !== 0x63) return; // 'w': a wake-up only
    const a = message.indexOf(0x7c, 2);
    const b = message.indexOf(0x7c, a + 1);
    if (a < 0 || b < 0) return;
    const [cj] = this.claimed([message.subarray(2, a), message.subarray(a + 1, b), message.subarray(b + 1)], 0, 1);
    if (cj) this.stash.push(cj);
  }

  /** Jobs handed to a wait whose worker did not claim them soon (it stopped, say) go back to the queue. */
  private sweepStash(): void {
    const stale = this.stash.takeStale(Date.now() - STASH_MAX_AGE_MS);
    if (stale.length === 0) return;
    this.releaseStash(stale).catch((err: unknown) => this.logger.debug({ err }, 'could not hand back unclaimed jobs; hung-job detection will'));
  }

  private async releaseStash(items: ClaimedJob[]): Promise<void> {
    const args: Arg[] = [this.ms(), items.length];
    for (const cj of items) {
      args.push(cj.claim.jobId, cj.claim.token);
      this.openClaims.delete(cj.claim.token);
    }
    await this.exec('release', args);
  }

  /** Reports claims (queued → running) once the settle that came with them was reported. */
  private reportClaimed(jobs: readonly ClaimedJob[]): void {
    for (const { job } of jobs) if (this.hasStatusListeners(job.type)) this.emitStatusChange(job, 'queued', null);
  }

  /**
   * Runs a script. `claimTokens` are the tokens a claim in this call may hand out:
   * when the reply is lost, jobs claimed with them are handed back once Redis is reachable.
   */
  private async exec(name: ScriptName, args: readonly Arg[], claimTokens?: readonly string[]): Promise<unknown> {
    try {
      return await this.send(() => this.scripts.run(this.client, name, args));
    } catch (err) {
      // Any failure may hide a claim that went through (lost reply, timeout): hand such jobs back.
      if (claimTokens?.length) {
        this.recoverTokens.push(...claimTokens);
        void this.flushRecover();
      }
      throw wrapRedisError(err, name);
    }
  }

  /**
   * Sends a command. On a connection the store owns, it waits (briefly) for the
   * connection to be ready and follows the command until its reply: if the
   * connection drops first, the command fails with `ConnectionLostError` rather than
   * staying pending forever (ioredis drops unanswered commands it does not replay).
   */
  private async send<T>(command: () => Promise<T>): Promise<T> {
    if (!this.ownsClient) return command();
    const client = this.client as Redis;
    for (let attempt = 0; ; attempt++) {
      if (client.status !== 'ready') await this.whenReady();
      const p = command();
      if (client.status !== 'ready') {
        // Refused without being sent (no offline queue): safe to try again once ready.
        await p.catch(() => undefined);
        if (attempt < 3) continue;
        return p;
      }
      return new Promise<T>((resolve, reject) => {
        const entry: Inflight = { reject, epoch: this.epoch, at: Date.now() };
        this.inflight.add(entry);
        p.then(
          (v) => {
            this.inflight.delete(entry);
            resolve(v);
          },
          (e: unknown) => {
            this.inflight.delete(entry);
            reject(e as Error);
          },
        );
      });
    }
  }

  private whenReady(): Promise<void> {
    const client = this.client as Redis;
    if (client.status === 'ready') return Promise.resolve();
    if (client.status === 'end' || this.closed) return Promise.reject(new StoreClosedError());
    const downFor = Date.now() - this.downSince;
    // Down for longer than a caller would wait: fail at once instead of making every call wait.
    if (downFor > READY_WAIT_MS) return Promise.reject(this.unreachable(client.status, downFor));
    this.ready ??= new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('end', onEnd);
        this.ready = null;
        if (err) reject(err);
        else resolve();
      };
      const onReady = () => done();
      const onEnd = () => done(new StoreConnectionError('The Redis connection was closed', { cause: this.lastError }));
      const timer = setTimeout(() => done(this.unreachable(client.status, Date.now() - this.downSince)), READY_WAIT_MS - downFor);
      client.on('ready', onReady);
      client.on('end', onEnd);
    });
    return this.ready;
  }

  /** Replaces our command connection when a command waits longer than `timeoutMs` for its reply. */
  private checkReplies(timeoutMs: number): void {
    if (this.inflight.size === 0) return;
    const limit = Date.now() - timeoutMs;
    // The set keeps insertion order: the first entry is the oldest.
    const oldest = this.inflight.values().next().value;
    if (!oldest || oldest.at > limit) return;
    this.logger.warn({ replyTimeoutMs: timeoutMs }, 'Redis did not answer in time; reconnecting');
    (this.client as Redis).disconnect(true);
  }

  private unreachable(status: string, forMs: number): StoreConnectionError {
    const why = this.lastError instanceof Error ? `: ${this.lastError.message}` : '';
    return new StoreConnectionError(`Redis is not reachable (connection ${status} for ${Math.round(forMs)} ms)${why}`, { cause: this.lastError });
  }

  private failInflight(): void {
    if (this.downSince === Infinity) this.downSince = Date.now();
    const epoch = this.epoch++;
    for (const entry of [...this.inflight]) {
      if (entry.epoch !== epoch) continue;
      this.inflight.delete(entry);
      entry.reject(new ConnectionLostError());
    }
  }

  /** Hands back jobs claimed by calls whose reply was lost. Retries until Redis answers or the store closes. */
  private flushRecover(): Promise<void> {
    if (this.recovering) return this.recovering;
    if (this.recoverTokens.length === 0 || this.closed) return Promise.resolve();
    this.recovering = (async () => {
      while (this.recoverTokens.length > 0 && !this.closed) {
        const tokens = this.recoverTokens.slice(0, 500);
        try {
          const released = (await this.send(() => this.scripts.run(this.client, 'recover', [this.ms(), tokens.length, ...tokens]))) as Buffer[];
          this.recoverTokens.splice(0, tokens.length);
          if (released.length > 0) this.logger.warn({ jobIds: released.map(String) }, 'handed back jobs whose claim reply was lost with the connection');
        } catch (err) {
          this.logger.debug({ err }, 'could not hand back lost claims yet; will retry');
          await new Promise((r) => setTimeout(r, 200).unref());
        }
      }
    })().finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  private async checkEvictionPolicy(): Promise<void> {
    try {
      const nodes: Redis[] = (this.client as Cluster).isCluster ? await clusterMasters(this.client as Cluster) : [this.client as Redis];
      for (const node of nodes) {
        const info = node === this.client ? await this.send(() => node.info('memory')) : await node.info('memory');
        const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
        if (policy && policy !== 'noeviction') {
          this.logger.warn(
            { maxmemoryPolicy: policy, prefix: this.prefix },
            `Redis maxmemory-policy is "${policy}": under memory pressure Redis may evict job keys and lose jobs. Set maxmemory-policy noeviction for a job store.`,
          );
          return;
        }
      }
    } catch (err) {
      this.logger.debug({ err }, 'could not read maxmemory-policy');
    }
  }

  /** Store time in whole ms (Date precision); scripts format it once and reuse the string. */
  private ms(): number {
    return Math.floor(this.clock.now());
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

async function clusterMasters(cluster: Cluster): Promise<Redis[]> {
  if (cluster.status !== 'ready') await new Promise<void>((resolve) => cluster.once('ready', () => resolve()));
  return cluster.nodes('master');
}

function validateClaimRequest(request: ClaimRequest): void {
  if (!request || typeof request !== 'object') throw new InvalidArgumentError('claim needs a request { workerId, queues, limit, leaseMs }');
  const { limit, leaseMs, queues } = request;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError('claim limit must be a positive integer');
  if (!Number.isFinite(leaseMs) || leaseMs < 0) throw new InvalidArgumentError('claim leaseMs must be a number ≥ 0');
  if (queues !== null && (!Array.isArray(queues) || queues.some((q) => typeof q !== 'string'))) {
    throw new InvalidArgumentError('claim queues must be null or an array of queue names');
  }
}

function queuesKey(queues: readonly string[] | null): string {
  return queues === null ? '\u0001' : queues.join('\u0000');
}

function queueArgs(queues: readonly string[] | null): Arg[] {
  return queues === null ? [-1] : [queues.length, ...queues];
}

function dedupe(queues: readonly string[]): string[] {
  return queues.length < 2 ? [...queues] : [...new Set(queues)];
}

/** '' for no filter, null for a filter that can match nothing. */
function queueFilter(queueName: unknown): string | null {
  if (queueName === undefined || queueName === null) return '';
  if (typeof queueName !== 'string') throw new InvalidArgumentError('queueName filter must be a string');
  return queueName.length === 0 ? null : queueName;
}

function statusCodes(statuses: readonly JobStatus[] | null): string {
  return (statuses ?? ALL_STATUSES).map((s) => CODE_BY_STATUS[s]).join('');
}

interface EncodedOutcome {
  code: string;
  error: string;
  delayMs: number;
  maxAttempts: number | '';
}

const COMPLETE_DELETE: EncodedOutcome = { code: 'd', error: '', delayMs: 0, maxAttempts: '' };
const COMPLETE_KEEP: EncodedOutcome = { code: 'c', error: '', delayMs: 0, maxAttempts: '' };
const PARK: EncodedOutcome = { code: 'w', error: '', delayMs: 0, maxAttempts: '' };

function encodeOutcome(outcome: Outcome): EncodedOutcome {
  if (!outcome || typeof outcome !== 'object') throw new InvalidArgumentError('outcome must be an object with a status');
  const maxAttempts = (n: unknown): number | '' => {
    if (n === undefined) return '';
    if (!Number.isInteger(n) || (n as number) < 1) throw new InvalidArgumentError('outcome maxAttempts must be a positive integer');
    return n as number;
  };
  switch (outcome.status) {
    case 'completed':
      return outcome.delete ? COMPLETE_DELETE : COMPLETE_KEEP;
    case 'wait_async':
      return PARK;
    case 'queued': {
      const delay = outcome.delayMs ?? 0;
      if (!Number.isFinite(delay) || delay < 0) throw new InvalidArgumentError('outcome delayMs must be a number ≥ 0');
      return { code: 'q', error: String(outcome.error ?? ''), delayMs: Math.ceil(delay), maxAttempts: maxAttempts(outcome.maxAttempts) || 1 };
    }
    case 'failed':
      return { code: 'f', error: String(outcome.error ?? ''), delayMs: 0, maxAttempts: maxAttempts(outcome.maxAttempts) };
    default:
      throw new InvalidArgumentError(`unknown outcome status ${JSON.stringify((outcome as { status: unknown }).status)}`);
  }
}

/** After a lost reply: does the job's present state show that our outcome was applied? */
function alreadyApplied(outcome: Outcome, job: JobRecord | null): boolean {
  if (outcome.status === 'completed') return outcome.delete ? job === null : job?.status === 'completed';
  if (!job || job.status !== outcome.status) return false;
  return outcome.status === 'wait_async' || job.errorMessage === outcome.error;
}
