import {
  ALL_STATUSES,
  BaseStore,
  type BaseStoreOptions,
  type Claim,
  type ClaimRequest,
  type ClaimedJob,
  type EnqueuedJob,
  InvalidArgumentError,
  InvalidStateChangeError,
  normalizePage,
  normalizeStatusFilter,
  type JobFilter,
  type JobListOptions,
  JobNotFoundError,
  type JobRecord,
  type JobStatus,
  type LockAttempt,
  mulliganMaxAttempts,
  type NewJob,
  type Outcome,
  type QueueStats,
  type SettleResult,
  StoreClosedError,
  type StoreCapabilities,
  type BackoffOption,
} from '@jqjobs/core';
import { Heap } from './heap.ts';
import { Lane } from './lane.ts';

/** Options for `MemoryStore`. */
export type MemoryStoreOptions = BaseStoreOptions;

interface Row {
  id: string;
  seq: number;
  type: string;
  payloadJson: string;
  queueName: string;
  status: JobStatus;
  priority: number;
  attemptNumber: number;
  maxAttempts: number;
  coalesceId: string | null;
  maxRuntimeSeconds: number | null;
  deleteOnComplete: boolean;
  errorMessage: string | null;
  backoff: BackoffOption | null;
  createdAt: number;
  // Times are epoch ms, NONE when unset. Numbers only (never null) so V8 keeps one
  // field representation for every row: switching null -> number later would make
  // it migrate each of possibly millions of rows on first touch.
  startAt: number;
  startedAt: number;
  endedAt: number;
  /** Run time: when the queued job becomes due. */
  runAt: number;
  token: string | null;
  workerId: string | null;
  leaseUntil: number;
  lockOwner: string | null;
  lockUntil: number;
  /** Bumped whenever the row enters or leaves a queue heap; stale heap entries are skipped. */
  gen: number;
}

interface Entry {
  row: Row;
  gen: number;
  priority: number;
  runAt: number;
  seq: number;
}

interface QueueIndex {
  name: string;
  /** Due jobs, one lane per priority. */
  lanes: Map<number, Lane<Row>>;
  /** The priorities that have a lane, highest first. */
  priorities: number[];
  /** Jobs whose run time is in the future, earliest first; moved to a lane when due. */
  delayed: Heap<Entry>;
  counts: Record<JobStatus, number>;
}

const delayedLess = (a: Entry, b: Entry) => a.runAt < b.runAt || (a.runAt === b.runAt && a.seq < b.seq);

interface Waiter {
  queues: readonly string[] | null;
  wake: () => void;
}

/**
 * An in-process store: no dependencies, no persistence. The embedded default for
 * examples, tests and delayed jobs, and the reference implementation of the store
 * contract. Every operation is atomic because it runs to completion on the event
 * loop. Jobs live as long as the process.
 *
 * @example
 * const store = new MemoryStore();
 * await store.enqueue(sendEmail, { to: 'a@example.com' });
 */
export class MemoryStore extends BaseStore {
  readonly capabilities: StoreCapabilities = { pushWakeups: true, sharedAcrossProcesses: false, durable: false };

  private readonly rows = new Map<string, Row>();
  private readonly byCoalesce = new Map<string, Row>();
  private readonly queues = new Map<string, QueueIndex>();
  /** Running and wait_async rows: hung detection reads only these. */
  private readonly active = new Set<Row>();
  private readonly waiters = new Set<Waiter>();
  private seq = 0;
  private tokenSeq = 0;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    super(options);
  }

  // ----- inserts -------------------------------------------------------------

  protected async insertJobs(jobs: readonly NewJob[]): Promise<EnqueuedJob[]> {
    this.assertOpen();
    const now = this.now();
    const out: EnqueuedJob[] = [];
    // Validation already happened in prepareJob; nothing below can throw, so the batch is all-or-nothing.
    for (const j of jobs) {
      const existing = j.coalesceId === null ? undefined : this.byCoalesce.get(j.coalesceId);
      if (existing) {
        out.push(this.toRecord(existing, true));
        continue;
      }
      const seq = ++this.seq;
      const startAt = j.startAt ? j.startAt.getTime() : now;
      const row: Row = {
        id: String(seq),
        seq,
        type: j.type,
        payloadJson: j.payloadJson,
        queueName: j.queueName,
        status: 'queued',
        priority: j.priority,
        attemptNumber: 0,
        maxAttempts: j.maxAttempts,
        coalesceId: j.coalesceId,
        maxRuntimeSeconds: j.maxRuntimeSeconds,
        deleteOnComplete: j.deleteOnComplete,
        errorMessage: null,
        backoff: j.backoff,
        createdAt: now,
        startAt,
        startedAt: NONE,
        endedAt: NONE,
        runAt: startAt,
        token: null,
        workerId: null,
        leaseUntil: NONE,
        lockOwner: null,
        lockUntil: NONE,
        gen: 0,
      };
      this.rows.set(row.id, row);
      if (row.coalesceId !== null) this.byCoalesce.set(row.coalesceId, row);
      this.index(row.queueName).counts.queued++;
      this.enqueueRow(row, now);
      out.push(this.toRecord(row, false));
    }
    return out;
  }

  // ----- reads ---------------------------------------------------------------

  async get(id: string): Promise<JobRecord> {
    this.assertOpen();
    return this.toRecord(this.mustGet(id));
  }

  async getByCoalesceId(coalesceId: string): Promise<JobRecord | null> {
    this.assertOpen();
    const row = this.byCoalesce.get(coalesceId);
    return row ? this.toRecord(row) : null;
  }

  async count(filter: JobFilter = {}): Promise<number> {
    this.assertOpen();
    const statuses = statusSet(filter.status);
    if (filter.queueName !== undefined) {
      const idx = this.queues.get(filter.queueName);
      if (!idx) return 0;
      return sumCounts(idx.counts, statuses);
    }
    let n = 0;
    for (const idx of this.queues.values()) n += sumCounts(idx.counts, statuses);
    return n;
  }

  async jobs(options: JobListOptions = {}): Promise<JobRecord[]> {
    this.assertOpen();
    const { limit, offset } = normalizePage(options);
    const statuses = statusSet(options.status);
    const out: JobRecord[] = [];
    let skipped = 0;
    // Map iteration order is insertion order, which is ascending id order.
    for (const row of this.rows.values()) {
      if (options.queueName !== undefined && row.queueName !== options.queueName) continue;
      if (statuses && !statuses.has(row.status)) continue;
      if (skipped < offset) {
        skipped++;
        continue;
      }
      if (out.length >= limit) break;
      out.push(this.toRecord(row));
    }
    return out;
  }

  async stats(): Promise<QueueStats[]> {
    this.assertOpen();
    const now = this.now();
    const out: QueueStats[] = [];
    for (const [queueName, idx] of this.queues) {
      this.promote(idx, now);
      let oldest: number | null = null;
      for (const lane of idx.lanes.values()) {
        for (const runAt of lane.liveRunAts()) {
          if (oldest === null || runAt < oldest) oldest = runAt;
          break; // lanes are ordered by run time
        }
      }
      // What is left in the delayed heap after promotion is scheduled for later (stale entries aside).
      let scheduled = 0;
      for (const e of idx.delayed.values()) if (e.gen === e.row.gen && e.row.status === 'queued') scheduled++;
      out.push({
        queueName,
        counts: { ...idx.counts },
        dueCount: idx.counts.queued - scheduled,
        oldestQueuedAgeMs: oldest === null ? null : Math.max(0, now - oldest),
      });
    }
    return out.sort((a, b) => (a.queueName < b.queueName ? -1 : a.queueName > b.queueName ? 1 : 0));
  }

  // ----- admin ---------------------------------------------------------------

  async restart(jobId: string): Promise<JobRecord> {
    this.assertOpen();
    const row = this.mustGet(jobId);
    const old = row.status;
    const now = this.now();
    this.active.delete(row);
    row.attemptNumber = 0;
    row.startAt = NONE;
    row.startedAt = NONE;
    row.endedAt = NONE;
    row.errorMessage = null;
    row.token = null;
    row.workerId = null;
    this.setStatus(row, 'queued');
    this.enqueueRow(row, now);
    const rec = this.toRecord(row);
    if (old !== 'queued') this.emitStatusChange(rec, old, 'restarted');
    return rec;
  }

  protected async removeJob(jobId: string): Promise<boolean> {
    this.assertOpen();
    const row = this.rows.get(String(jobId));
    if (!row) return false;
    this.dropRow(row);
    return true;
  }

  async detectHungJobs(): Promise<number> {
    this.assertOpen();
    const now = this.now();
    const hung: Row[] = [];
    for (const row of this.active) {
      const overRuntime = row.maxRuntimeSeconds !== null && row.startedAt !== NONE && now - row.startedAt > row.maxRuntimeSeconds * 1000;
      const leaseExpired = row.status === 'running' && row.leaseUntil < now;
      if (overRuntime || leaseExpired) hung.push(row);
    }
    for (const row of hung) {
      const maxAttempts = mulliganMaxAttempts(row.maxAttempts);
      const overRuntime = row.maxRuntimeSeconds !== null && row.startedAt !== NONE && now - row.startedAt > row.maxRuntimeSeconds * 1000;
      const reason = overRuntime ? hungRuntimeMessage(row.maxRuntimeSeconds) : HUNG_LEASE_MESSAGE;
      const outcome: Outcome =
        row.attemptNumber < maxAttempts ? { status: 'queued', error: reason, delayMs: 0, maxAttempts } : { status: 'failed', error: reason, maxAttempts };
      this.apply(row, outcome, now);
    }
    return hung.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters) w.wake();
    this.waiters.clear();
  }

  // ----- locks ---------------------------------------------------------------

  protected async tryLock(jobId: string, owner: string, ttlMs: number): Promise<LockAttempt> {
    this.assertOpen();
    const row = this.rows.get(String(jobId));
    if (!row) return 'missing';
    const now = this.now();
    if (row.lockOwner !== null && row.lockOwner !== owner && row.lockUntil > now) return 'locked';
    row.lockOwner = owner;
    row.lockUntil = now + ttlMs;
    return 'acquired';
  }

  protected async unlock(jobId: string, owner: string): Promise<void> {
    const row = this.rows.get(String(jobId));
    if (row && row.lockOwner === owner) {
      row.lockOwner = null;
      row.lockUntil = NONE;
    }
  }

  // ----- worker primitives -----------------------------------------------------

  async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    this.assertOpen();
    return this.claimNow(request);
  }

  async settle(claim: Claim, outcome: Outcome, next?: ClaimRequest): Promise<SettleResult> {
    this.assertOpen();
    const row = this.rows.get(claim.jobId);
    if (!row || row.token !== claim.token || row.status !== 'running') {
      return { applied: false, job: row ? this.toRecord(row) : null, next: next ? this.claimNow(next) : [] };
    }
    const job = this.apply(row, outcome, this.now());
    return settled(job, next ? this.claimNow(next) : []);
  }

  async settleWaitAsync(jobId: string, outcome: Outcome): Promise<SettleResult> {
    this.assertOpen();
    const row = this.mustGet(jobId);
    if (row.status !== 'wait_async') return { applied: false, job: this.toRecord(row), next: [] };
    if (outcome.status === 'wait_async') return { applied: true, job: this.toRecord(row), next: [] };
    return settled(this.apply(row, outcome, this.now()), []);
  }

  async release(claims: readonly Claim[]): Promise<void> {
    this.assertOpen();
    const now = this.now();
    for (const c of claims) {
      const row = this.rows.get(c.jobId);
      if (!row || row.token !== c.token || row.status !== 'running') continue;
      this.active.delete(row);
      row.attemptNumber = Math.max(0, row.attemptNumber - 1);
      row.token = null;
      row.workerId = null;
      this.setStatus(row, 'queued');
      // Keep its original place in line: run time unchanged.
      this.pushEntry(row, now);
      if (this.hasStatusListeners(row.type)) this.emitStatusChange(this.toRecord(row), 'running', 'released by a stopping worker');
    }
  }

  async extendLeases(claims: readonly Claim[], leaseMs: number): Promise<string[]> {
    this.assertOpen();
    const until = this.now() + leaseMs;
    const lost: string[] = [];
    for (const c of claims) {
      const row = this.rows.get(c.jobId);
      if (!row || row.token !== c.token || row.status !== 'running') lost.push(c.jobId);
      else row.leaseUntil = until;
    }
    return lost;
  }

  override async waitForWork(queues: readonly string[] | null, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted || timeoutMs <= 0) return;
    const now = this.now();
    if (this.hasDue(queues, now)) return;
    // A delayed job becoming due is a wake-up too.
    const nextDue = this.nextDelayed(queues);
    const wait = nextDue === null ? timeoutMs : Math.min(timeoutMs, Math.max(1, nextDue - now));
    await new Promise<void>((resolve) => {
      const waiter: Waiter = { queues, wake: () => done() };
      const timer = setTimeout(() => done(), wait);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  // ----- internals -------------------------------------------------------------

  private claimNow(request: ClaimRequest): ClaimedJob[] {
    if (!Number.isInteger(request.limit) || request.limit < 1) throw new InvalidArgumentError('claim limit must be a positive integer');
    const now = this.now();
    const out: ClaimedJob[] = [];
    const names = request.queues;
    while (out.length < request.limit) {
      let best: Lane<Row> | undefined;
      let bestRow: Row | undefined;
      if (names !== null && names.length === 1) {
        const idx = this.queues.get(names[0]!);
        best = idx && this.head(idx, now);
        bestRow = best?.peek();
      } else {
        for (const idx of this.queues.values()) {
          if (names !== null && !names.includes(idx.name)) continue;
          const lane = this.head(idx, now);
          const row = lane?.peek();
          if (!lane || !row) continue;
          if (!best || !bestRow || laneBefore(row.priority, lane, bestRow.priority, best)) {
            best = lane;
            bestRow = row;
          }
        }
      }
      if (!best || !bestRow) break;
      best.shift();
      const row = bestRow;
      row.gen++;
      row.attemptNumber++;
      row.startedAt = now;
      row.endedAt = NONE;
      row.errorMessage = null;
      row.token = String(++this.tokenSeq);
      row.workerId = request.workerId;
      row.leaseUntil = now + request.leaseMs;
      this.setStatus(row, 'running');
      this.active.add(row);
      const job = this.toRecord(row);
      out.push({ job, claim: { jobId: row.id, token: row.token } });
      if (this.hasStatusListeners(row.type)) this.emitStatusChange(job, 'queued', null);
    }
    return out;
  }

  /** The lane holding a queue's best due job, after promoting due delayed jobs; drops emptied lanes. */
  private head(idx: QueueIndex, now: number): Lane<Row> | undefined {
    if (idx.delayed.size > 0) this.promote(idx, now);
    while (idx.priorities.length > 0) {
      const p = idx.priorities[0]!;
      const lane = idx.lanes.get(p)!;
      if (lane.peek() !== undefined) return lane;
      idx.lanes.delete(p);
      idx.priorities.shift();
    }
    return undefined;
  }

  private promote(idx: QueueIndex, now: number): void {
    for (;;) {
      const e = idx.delayed.peek();
      if (!e || e.runAt > now) return;
      idx.delayed.pop();
      if (e.gen === e.row.gen && e.row.status === 'queued') this.lane(idx, e.priority).push(e.row, e.runAt, e.seq);
    }
  }

  private lane(idx: QueueIndex, priority: number): Lane<Row> {
    let lane = idx.lanes.get(priority);
    if (!lane) {
      lane = new Lane<Row>();
      idx.lanes.set(priority, lane);
      let i = 0;
      while (i < idx.priorities.length && idx.priorities[i]! > priority) i++;
      idx.priorities.splice(i, 0, priority);
    }
    return lane;
  }

  /** Applies an outcome to a running or wait_async row, reports the change, returns a lazy record of the result. */
  private apply(row: Row, outcome: Outcome, now: number): () => JobRecord {
    const old = row.status;
    if (old !== outcome.status && old !== 'running' && old !== 'wait_async') throw new InvalidStateChangeError(old, outcome.status, row.id);
    let message: string | null = null;
    switch (outcome.status) {
      case 'completed':
        this.active.delete(row);
        row.endedAt = now;
        row.token = null;
        this.setStatus(row, 'completed');
        break;
      case 'wait_async':
        row.token = null;
        this.setStatus(row, 'wait_async');
        break;
      case 'queued':
        this.active.delete(row);
        row.errorMessage = outcome.error;
        row.maxAttempts = outcome.maxAttempts;
        row.startAt = now + outcome.delayMs;
        row.token = null;
        row.workerId = null;
        this.setStatus(row, 'queued');
        this.enqueueRow(row, now);
        message = outcome.error;
        break;
      case 'failed':
        this.active.delete(row);
        row.errorMessage = outcome.error;
        if (outcome.maxAttempts !== undefined) row.maxAttempts = outcome.maxAttempts;
        row.endedAt = now;
        row.token = null;
        this.setStatus(row, 'failed');
        message = outcome.error;
        break;
    }
    if (outcome.status === 'completed' && outcome.delete) this.dropRow(row);
    if (this.hasStatusListeners(row.type)) {
      const rec = this.toRecord(row);
      this.emitStatusChange(rec, old, message);
      return () => rec;
    }
    // A record of the row as it is now, built only if someone reads it (the hot path rarely does).
    // A deleted row never changes again, so it needs no copy.
    const frozen = outcome.status === 'completed' && outcome.delete ? row : { ...row };
    return () => this.toRecord(frozen);
  }

  /** Puts a queued row in its queue's heap with run time = startAt (or now after a restart). */
  private enqueueRow(row: Row, now: number): void {
    row.runAt = row.startAt === NONE ? now : row.startAt;
    this.pushEntry(row, now);
  }

  private pushEntry(row: Row, now: number): void {
    row.gen++;
    const idx = this.index(row.queueName);
    if (row.runAt <= now) this.lane(idx, row.priority).push(row, row.runAt, row.seq);
    else idx.delayed.push({ row, gen: row.gen, priority: row.priority, runAt: row.runAt, seq: row.seq });
    if (this.waiters.size > 0) this.notify(row.queueName);
  }

  private wakeQueues: Set<string> | null = null;

  /**
   * Wakes waiters on this queue (for a delayed job the waiter re-enters
   * waitForWork and sleeps until it is due). Deferred to the next turn of the
   * event loop so the enqueue's own status event is reported before a woken
   * worker claims the job.
   */
  private notify(queueName: string): void {
    if (this.wakeQueues) {
      this.wakeQueues.add(queueName);
      return;
    }
    this.wakeQueues = new Set([queueName]);
    setImmediate(() => {
      const queues = this.wakeQueues!;
      this.wakeQueues = null;
      for (const w of this.waiters) if (w.queues === null || w.queues.some((q) => queues.has(q))) w.wake();
    });
  }

  private dropRow(row: Row): void {
    this.rows.delete(row.id);
    this.active.delete(row);
    row.gen++;
    if (row.coalesceId !== null && this.byCoalesce.get(row.coalesceId) === row) this.byCoalesce.delete(row.coalesceId);
    const idx = this.queues.get(row.queueName);
    if (idx) idx.counts[row.status]--;
  }

  private setStatus(row: Row, status: JobStatus): void {
    const idx = this.index(row.queueName);
    idx.counts[row.status]--;
    idx.counts[status]++;
    row.status = status;
  }

  private index(queueName: string): QueueIndex {
    let idx = this.queues.get(queueName);
    if (!idx) {
      idx = { name: queueName, lanes: new Map(), priorities: [], delayed: new Heap(delayedLess), counts: zeroCounts() };
      this.queues.set(queueName, idx);
    }
    return idx;
  }

  private hasDue(queues: readonly string[] | null, now: number): boolean {
    const names = queues ?? [...this.queues.keys()];
    return names.some((n) => {
      const idx = this.queues.get(n);
      return idx !== undefined && this.head(idx, now) !== undefined;
    });
  }

  private nextDelayed(queues: readonly string[] | null): number | null {
    let next: number | null = null;
    for (const n of queues ?? this.queues.keys()) {
      const e = this.queues.get(n)?.delayed.peek();
      if (e && (next === null || e.runAt < next)) next = e.runAt;
    }
    return next;
  }

  private mustGet(id: string): Row {
    const row = typeof id === 'string' || typeof id === 'number' ? this.rows.get(String(id)) : undefined;
    if (!row) throw new JobNotFoundError(String(id));
    return row;
  }

  private toRecord(row: Row): JobRecord;
  private toRecord(row: Row, coalesced: boolean): EnqueuedJob;
  private toRecord(row: Row, coalesced?: boolean): JobRecord {
    const rec: JobRecord = {
      id: row.id,
      type: row.type,
      payload: JSON.parse(row.payloadJson) as unknown,
      queueName: row.queueName,
      status: row.status,
      priority: row.priority,
      attemptNumber: row.attemptNumber,
      maxAttempts: row.maxAttempts,
      coalesceId: row.coalesceId,
      maxRuntimeSeconds: row.maxRuntimeSeconds,
      deleteOnComplete: row.deleteOnComplete,
      errorMessage: row.errorMessage,
      backoff: row.backoff === null || typeof row.backoff === 'number' ? row.backoff : { ...row.backoff },
      createdAt: new Date(row.createdAt),
      startAt: row.startAt === NONE ? null : new Date(row.startAt),
      startedAt: row.startedAt === NONE ? null : new Date(row.startedAt),
      endedAt: row.endedAt === NONE ? null : new Date(row.endedAt),
    };
    if (coalesced !== undefined) (rec as EnqueuedJob).coalesced = coalesced;
    return rec;
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }
}

const NONE = Number.NEGATIVE_INFINITY;
const HUNG_LEASE_MESSAGE = 'hung: the worker stopped heartbeating (lease expired)';
const hungRuntimeMessage = (s: number | null) => `hung: ran longer than maxRuntimeSeconds (${s})`;

/** True when the head of lane `a` (priority `pa`) is taken before the head of lane `b`. */
function laneBefore(pa: number, a: Lane<Row>, pb: number, b: Lane<Row>): boolean {
  if (pa !== pb) return pa > pb;
  const ra = a.headRunAt();
  const rb = b.headRunAt();
  return ra < rb || (ra === rb && a.headSeq() < b.headSeq());
}

/** A settle result whose `job` is built on first read. */
class Settled implements SettleResult {
  readonly applied = true;
  private rec: JobRecord | undefined;
  constructor(
    private readonly make: () => JobRecord,
    readonly next: ClaimedJob[],
  ) {}
  get job(): JobRecord {
    this.rec ??= this.make();
    return this.rec;
  }
}

function settled(job: () => JobRecord, next: ClaimedJob[]): SettleResult {
  return new Settled(job, next);
}

function zeroCounts(): Record<JobStatus, number> {
  return { unqueued: 0, queued: 0, running: 0, wait_async: 0, completed: 0, failed: 0 };
}

function statusSet(status: JobFilter['status']): Set<JobStatus> | null {
  const list = normalizeStatusFilter(status);
  return list ? new Set(list) : null;
}

function sumCounts(counts: Record<JobStatus, number>, statuses: Set<JobStatus> | null): number {
  let n = 0;
  for (const s of ALL_STATUSES) if (!statuses || statuses.has(s)) n += counts[s];
  return n;
}
