import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { type Clock, InvalidArgumentError, systemClock } from '@jqjobs/core';
import {
  queueNameProblem,
  type Scalable,
  ScalerError,
  ScalerFatalError,
  ScalerUnavailableError,
  type ScaleOutcome,
  type ScaleResult,
  type ScaleUpdate,
} from '@jqjobs/autoscaler';
import { RateBudget } from './rate-budget.ts';

/** heroku-client's response hook: sees the raw response, then must call `next`. */
export type HerokuMiddleware = (response: IncomingMessage, next: () => void) => void;

/** The request options of heroku-client this driver uses. */
export interface HerokuRequestOptions {
  method: 'GET' | 'PATCH';
  path: string;
  body?: unknown;
  middleware?: HerokuMiddleware;
}

/**
 * The part of heroku-client's `Heroku` this driver uses; a `new Heroku({ token })`
 * (or one with `host: 'http://127.0.0.1:PORT'`) fits. Do not set its `timeout`
 * option: on a timeout heroku-client rejects and then re-sends the request in
 * the background, and the late write can overwrite a newer decision.
 */
export interface HerokuClientLike {
  request(options: HerokuRequestOptions): Promise<unknown>;
  readonly options?: { readonly middleware?: HerokuMiddleware };
}

interface ScalerCommon {
  /** The Heroku app (name or id). */
  app: string;
  /** Process type per queue, when they differ. @default the queue name */
  processTypes?: Record<string, string>;
  /** Seconds a scale-down takes to settle (dynos get SIGTERM and 30 s to exit). @default 15 */
  minSecondsToProcessDownScale?: number;
  /**
   * Seconds a tick waits for Heroku's answer. The request is not aborted or
   * re-sent: a write still unanswered keeps its process type locked until it
   * settles, so no second write for it goes out meanwhile.
   * @default 30
   */
  requestTimeoutSeconds?: number;
  /**
   * Platform API calls (of the account's 4,500 per hour) this driver leaves to
   * everything else: it makes no call while `RateLimit-Remaining` (refilled at
   * 75 a minute between answers) would drop below this.
   * @default 500
   */
  rateLimitReserve?: number;
  /** Time source for the rate budget and the read cache. @default systemClock */
  clock?: Clock;
}

/** Options of `new HerokuScaler(...)`: an API token, or a heroku-client instance. */
export type HerokuScalerOptions = ScalerCommon & ({ token: string; client?: never } | { client: HerokuClientLike; token?: never });

/** One formation entry as the Platform API returns it (the fields used here). */
interface Formation {
  type: string;
  quantity: number;
}

type Snapshot = { at: number; quantities: Map<string, number> } | { at: number; error: ScalerError };

// A tick's counts follow its prepareTick within milliseconds; anything older is re-read.
const SNAPSHOT_TTL_MS = 2_000;
const PROCESS_TYPE = /^[A-Za-z0-9_-]{1,100}$/;

function loadHerokuClient(token: string): HerokuClientLike {
  // heroku-client is CommonJS without types; createRequire keeps it a lazy, optional peer.
  const require = createRequire(import.meta.url);
  const Heroku = require('heroku-client') as new (options: { token: string }) => HerokuClientLike;
  return new Heroku({ token });
}

function isFormationList(value: unknown): value is Formation[] {
  return Array.isArray(value) && value.every((f) => f !== null && typeof f === 'object' && typeof (f as Formation).type === 'string' && Number.isInteger((f as Formation).quantity));
}

/**
 * Scales Heroku dynos through the Platform API's formation endpoints: one
 * process type per queue (the queue name unless `processTypes` says otherwise).
 *
 * - One `GET /apps/{app}/formation` per tick (`prepareTick`) answers every
 *   queue's count; one `PATCH /apps/{app}/formation` per tick carries every
 *   change (`setCurrentWorkersForQueues`).
 * - At most one write in flight per process type; no background re-sends.
 * - A budget keeps the account's API calls under Heroku's 4,500 an hour using
 *   `RateLimit-Remaining`.
 * - 429 and 5xx (and timeouts, network errors, the budget) are
 *   `ScalerUnavailableError`: the count is unknown, nothing is written, the next
 *   tick tries again. 401, 403 and 404 (and a process type missing from the
 *   formation) are `ScalerFatalError`: the autoscaler disables the queue.
 *
 * @example
 * const scaler = new HerokuScaler({ app: 'my-app', token: process.env.HEROKU_API_TOKEN! });
 */
export class HerokuScaler implements Scalable {
  readonly app: string;
  private readonly client: HerokuClientLike;
  private readonly processTypes: ReadonlyMap<string, string>;
  private readonly settleSeconds: number;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly budget: RateBudget;
  private snapshot: Snapshot | null = null;
  private readInFlight: Promise<void> | null = null;
  private readonly writesInFlight = new Set<string>();

  /** @throws InvalidArgumentError for a bad app, token, client, mapping or number. */
  constructor(options: HerokuScalerOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('HerokuScaler: expected { app, token } or { app, client }');
    const { app, token, client } = options as ScalerCommon & { token?: unknown; client?: unknown };
    if (typeof app !== 'string' || app.length === 0 || app.length > 100 || /[\s/?#%]/.test(app)) {
      throw new InvalidArgumentError(`HerokuScaler: app must be a Heroku app name or id, got ${JSON.stringify(app)}`);
    }
    if ((token === undefined) === (client === undefined)) throw new InvalidArgumentError('HerokuScaler: give exactly one of token and client');
    if (token !== undefined && (typeof token !== 'string' || token.length === 0)) throw new InvalidArgumentError('HerokuScaler: token must be a non-empty string');
    if (client !== undefined && (client === null || typeof (client as HerokuClientLike).request !== 'function')) {
      throw new InvalidArgumentError('HerokuScaler: client must be a heroku-client instance (new Heroku({ token }))');
    }
    const types = new Map<string, string>();
    const mapping = options.processTypes ?? {};
    if (mapping === null || typeof mapping !== 'object' || Array.isArray(mapping)) throw new InvalidArgumentError('HerokuScaler: processTypes must be an object of queue → process type');
    const seen = new Map<string, string>();
    for (const [queue, type] of Object.entries(mapping)) {
      const problem = queueNameProblem(queue);
      if (problem) throw new InvalidArgumentError(`HerokuScaler: processTypes: ${problem}`);
      if (typeof type !== 'string' || !PROCESS_TYPE.test(type)) throw new InvalidArgumentError(`HerokuScaler: processTypes.${queue} must be a process type (letters, digits, _ and -), got ${JSON.stringify(type)}`);
      const other = seen.get(type);
      if (other !== undefined) throw new InvalidArgumentError(`HerokuScaler: queues ${JSON.stringify(other)} and ${JSON.stringify(queue)} both map to process type ${JSON.stringify(type)}`);
      seen.set(type, queue);
      types.set(queue, type);
    }
    const settle = options.minSecondsToProcessDownScale ?? 15;
    if (typeof settle !== 'number' || !Number.isFinite(settle) || settle < 0) throw new InvalidArgumentError('HerokuScaler: minSecondsToProcessDownScale must be a number ≥ 0');
    const timeout = options.requestTimeoutSeconds ?? 30;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) throw new InvalidArgumentError('HerokuScaler: requestTimeoutSeconds must be a number > 0');
    const reserve = options.rateLimitReserve ?? 500;
    if (!Number.isSafeInteger(reserve) || reserve < 0 || reserve >= 4_500) throw new InvalidArgumentError('HerokuScaler: rateLimitReserve must be an integer from 0 to 4499');
    this.app = app;
    this.client = client === undefined ? loadHerokuClient(token as string) : (client as HerokuClientLike);
    this.processTypes = types;
    this.settleSeconds = settle;
    this.timeoutMs = timeout * 1000;
    this.clock = options.clock ?? systemClock;
    this.budget = new RateBudget(reserve, this.clock);
  }

  /** The process type a queue scales. @throws InvalidArgumentError when the queue name is not a usable process type and no mapping is given. */
  processTypeFor(queue: string): string {
    const problem = queueNameProblem(queue);
    if (problem) throw new InvalidArgumentError(`HerokuScaler: ${problem}`);
    const type = this.processTypes.get(queue) ?? queue;
    if (!PROCESS_TYPE.test(type)) {
      throw new InvalidArgumentError(`HerokuScaler: queue ${JSON.stringify(queue)} is not a valid process type; map it with processTypes: { ${JSON.stringify(queue)}: 'worker' }`);
    }
    return type;
  }

  handlesQueue(queue: string): boolean {
    try {
      this.processTypeFor(queue);
      return true;
    } catch {
      return false;
    }
  }

  minSecondsToProcessDownScale(): number {
    return this.settleSeconds;
  }

  /** Reads the app's formation once for the tick; a failure is kept for the counts to report. */
  async prepareTick(): Promise<void> {
    await this.read();
  }

  async countCurrentWorkersForQueue(queue: string): Promise<number> {
    const type = this.processTypeFor(queue);
    const snap = this.snapshot;
    if (!snap || this.clock.now() - snap.at > SNAPSHOT_TTL_MS) await this.read();
    const now = this.snapshot;
    if (!now) throw new ScalerUnavailableError(`Heroku formation of ${this.app} could not be read`, { provider: 'heroku' });
    if ('error' in now) throw now.error;
    const quantity = now.quantities.get(type);
    if (quantity === undefined) {
      throw new ScalerFatalError(`Heroku app ${this.app} has no process type ${JSON.stringify(type)} (queue ${JSON.stringify(queue)})`, {
        provider: 'heroku',
        providerCode: 'process_type_missing',
      });
    }
    return quantity;
  }

  async setCurrentWorkersForQueue(count: number, queue: string): Promise<ScaleOutcome> {
    const [result] = await this.setCurrentWorkersForQueues([{ queue, count }]);
    if (!result) throw new ScalerUnavailableError('no result', { provider: 'heroku' });
    if (!result.ok) throw result.error;
    return { count: result.count, changed: result.changed, ...(result.note ? { note: result.note } : {}) };
  }

  /**
   * One PATCH for every change. Updates whose process type already has a write
   * in flight, or that match the last read, are answered without a call.
   * @throws InvalidArgumentError for a bad count or queue — before anything is sent.
   */
  async setCurrentWorkersForQueues(updates: readonly ScaleUpdate[]): Promise<ScaleResult[]> {
    if (!Array.isArray(updates)) throw new InvalidArgumentError('HerokuScaler: expected an array of { queue, count }');
    const planned = updates.map((u) => {
      if (u === null || typeof u !== 'object') throw new InvalidArgumentError('HerokuScaler: each update is { queue, count }');
      if (!Number.isSafeInteger(u.count) || u.count < 0) throw new InvalidArgumentError(`HerokuScaler: a dyno count must be an integer ≥ 0, got ${String(u.count)} for ${JSON.stringify(u.queue)}`);
      return { ...u, type: this.processTypeFor(u.queue) };
    });
    const results: ScaleResult[] = [];
    const send: typeof planned = [];
    const known = this.snapshot && 'quantities' in this.snapshot && this.clock.now() - this.snapshot.at <= SNAPSHOT_TTL_MS ? this.snapshot.quantities : null;
    for (const u of planned) {
      if (this.writesInFlight.has(u.type) || send.some((s) => s.type === u.type)) {
        results.push({ queue: u.queue, ok: false, error: new ScalerUnavailableError(`a write for process type ${u.type} is still in flight; not sending another`, { provider: 'heroku', providerCode: 'write_in_flight' }) });
      } else if (known?.get(u.type) === u.count) {
        results.push({ queue: u.queue, ok: true, count: u.count, changed: false, note: 'already at that quantity' });
      } else {
        send.push(u);
      }
    }
    if (send.length === 0) return results;
    const fail = (error: ScalerError) => {
      for (const u of send) results.push({ queue: u.queue, ok: false, error });
      return results;
    };
    if (!this.budget.take()) return fail(this.budgetError());

    for (const u of send) this.writesInFlight.add(u.type);
    const request = this.call({
      method: 'PATCH',
      path: `/apps/${encodeURIComponent(this.app)}/formation`,
      body: { updates: send.map((u) => ({ type: u.type, quantity: u.count })) },
    }).finally(() => {
      for (const u of send) this.writesInFlight.delete(u.type);
      // Whatever happened, the formation may have changed: read it again next time.
      this.snapshot = null;
    });
    let body: unknown;
    try {
      body = await this.withTimeout(request, 'formation update');
    } catch (err) {
      return fail(this.classify(err, 'update the formation of'));
    }
    const after = isFormationList(body) ? new Map(body.map((f) => [f.type, f.quantity])) : null;
    if (after) this.snapshot = { at: this.clock.now(), quantities: after };
    for (const u of send) results.push({ queue: u.queue, ok: true, count: after?.get(u.type) ?? u.count, changed: true });
    return results;
  }

  // ----- internals -----------------------------------------------------------

  private async read(): Promise<void> {
    if (this.readInFlight) {
      // A read from an earlier tick is still unanswered: report unknown instead of piling up calls.
      this.snapshot = { at: this.clock.now(), error: new ScalerUnavailableError(`the previous formation read of ${this.app} is still unanswered`, { provider: 'heroku', providerCode: 'read_in_flight' }) };
      return;
    }
    if (!this.budget.take()) {
      this.snapshot = { at: this.clock.now(), error: this.budgetError() };
      return;
    }
    const request = this.call({ method: 'GET', path: `/apps/${encodeURIComponent(this.app)}/formation` });
    const settled = request.then(
      () => undefined,
      () => undefined,
    );
    this.readInFlight = settled;
    void settled.finally(() => {
      if (this.readInFlight === settled) this.readInFlight = null;
    });
    try {
      const body = await this.withTimeout(request, 'formation read');
      if (!isFormationList(body)) throw new ScalerUnavailableError(`Heroku answered the formation read of ${this.app} with something that is not a formation list`, { provider: 'heroku' });
      this.snapshot = { at: this.clock.now(), quantities: new Map(body.map((f) => [f.type, f.quantity])) };
    } catch (err) {
      this.snapshot = { at: this.clock.now(), error: this.classify(err, 'read the formation of') };
    }
  }

  private call(options: HerokuRequestOptions): Promise<unknown> {
    const theirs = this.client.options?.middleware;
    const middleware: HerokuMiddleware = (res, next) => {
      this.budget.observe(res.headers['ratelimit-remaining']);
      if (theirs) theirs(res, next);
      else next();
    };
    try {
      return this.client.request({ ...options, middleware });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ScalerUnavailableError(`Heroku did not answer the ${what} of ${this.app} within ${this.timeoutMs} ms; the request is left to finish and is not re-sent`, {
              provider: 'heroku',
              providerCode: 'timeout',
            }),
          ),
        this.timeoutMs,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  private budgetError(): ScalerUnavailableError {
    return new ScalerUnavailableError(
      `Heroku API budget: fewer than ${this.budget.estimate()?.toFixed(0) ?? '?'} calls left would cross the reserve; next call in about ${Math.ceil(this.budget.waitMs() / 1000)} s`,
      { provider: 'heroku', providerCode: 'rate_limit_budget' },
    );
  }

  private classify(err: unknown, what: string): ScalerError {
    if (err instanceof ScalerError) return err;
    const status = (err as { statusCode?: unknown } | null)?.statusCode;
    const body = (err as { body?: unknown } | null)?.body;
    const id = body && typeof body === 'object' && typeof (body as { id?: unknown }).id === 'string' ? (body as { id: string }).id : undefined;
    const text = body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : undefined;
    const detail = [typeof status === 'number' ? `HTTP ${status}` : null, id, text].filter(Boolean).join(' ');
    const details = { cause: err, provider: 'heroku', ...(typeof status === 'number' ? { status } : {}), ...(id ? { providerCode: id } : {}) };
    if (typeof status === 'number') {
      if (status === 401 || status === 403 || status === 404) {
        return new ScalerFatalError(`Heroku refused to ${what} app ${this.app}: ${detail}`, details);
      }
      if (status === 429) this.budget.exhausted();
      return new ScalerUnavailableError(`Heroku could not ${what} app ${this.app}: ${detail}`, details);
    }
    return new ScalerUnavailableError(`Heroku could not ${what} app ${this.app}: ${err instanceof Error ? err.message : String(err)}`, details);
  }
}
