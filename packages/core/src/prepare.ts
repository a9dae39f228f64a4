import type { JobDefinition } from './define-job.ts';
import { InvalidJobOptionsError, PayloadNotSerializableError } from './errors.ts';
import type { BackoffOption, EnqueuedJob, EnqueueOptions, NewJob } from './types.ts';

/** Limits shared by every store, so a job valid in one store is valid in all. */
export const LIMITS = Object.freeze({
  nameLength: 255,
  queueNameLength: 255,
  coalesceIdLength: 1024,
  maxAttempts: 1_000_000,
  /** Priorities fit a 32-bit signed integer (a Postgres `integer`). */
  priorityMin: -2_147_483_648,
  priorityMax: 2_147_483_647,
  /** A job never gets more than this many attempts through mulligans. */
  mulliganCap: 20,
});

const OPTION_KEYS = new Set(['queueName', 'priority', 'maxAttempts', 'startAt', 'maxRuntimeSeconds', 'deleteOnComplete', 'coalesceId', 'backoff']);

function bad(option: string, message: string): never {
  throw new InvalidJobOptionsError(option, message);
}

/** Parses a `startAt` value; throws `InvalidJobOptionsError` for anything that is not a valid date. */
export function parseStartAt(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  let d: Date;
  if (value instanceof Date) d = new Date(value.getTime());
  else if (typeof value === 'number') d = new Date(value);
  else if (typeof value === 'string' && value.trim() !== '') d = new Date(value);
  else return bad('startAt', 'expected a Date, an ISO-8601 string or epoch milliseconds');
  if (Number.isNaN(d.getTime())) bad('startAt', `not a valid date: ${String(value)}`);
  return d;
}

function validateBackoff(value: unknown): BackoffOption | null {
  if (value === null || value === undefined) return null;
  const okMs = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  if (typeof value === 'number') return okMs(value) ? value : bad('backoff', 'a delay must be a finite number of milliseconds ≥ 0');
  if (typeof value !== 'object') return bad('backoff', 'expected milliseconds or { type, delayMs }');
  const b = value as Record<string, unknown>;
  if (!okMs(b.delayMs)) bad('backoff', 'delayMs must be a finite number ≥ 0');
  if (b.type === 'fixed') return { type: 'fixed', delayMs: b.delayMs as number };
  if (b.type === 'exponential') {
    if (b.maxDelayMs !== undefined && (!okMs(b.maxDelayMs) || (b.maxDelayMs as number) < (b.delayMs as number))) {
      bad('backoff', 'maxDelayMs must be a finite number ≥ delayMs');
    }
    return b.maxDelayMs === undefined
      ? { type: 'exponential', delayMs: b.delayMs as number }
      : { type: 'exponential', delayMs: b.delayMs as number, maxDelayMs: b.maxDelayMs as number };
  }
  return bad('backoff', `unknown type ${JSON.stringify(b.type)} (expected 'fixed' or 'exponential')`);
}

/**
 * Checks enqueue options and returns a normalised copy holding only the keys that
 * were given. Throws `InvalidJobOptionsError` on the first bad option (unknown keys included).
 */
export function validateEnqueueOptions(options: EnqueueOptions): EnqueueOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) bad('options', 'expected an object');
  const out: EnqueueOptions = {};
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) bad(key, 'unknown option');
  }
  const o = options as Record<string, unknown>;
  if (o.queueName !== undefined) {
    if (typeof o.queueName !== 'string' || o.queueName.length === 0 || o.queueName.length > LIMITS.queueNameLength) {
      bad('queueName', `expected a non-empty string of at most ${LIMITS.queueNameLength} characters`);
    }
    out.queueName = o.queueName;
  }
  if (o.priority !== undefined) {
    if (!Number.isInteger(o.priority) || (o.priority as number) < LIMITS.priorityMin || (o.priority as number) > LIMITS.priorityMax) {
      bad('priority', 'expected a 32-bit integer');
    }
    out.priority = o.priority as number;
  }
  if (o.maxAttempts !== undefined) {
    if (!Number.isInteger(o.maxAttempts) || (o.maxAttempts as number) < 1 || (o.maxAttempts as number) > LIMITS.maxAttempts) {
      bad('maxAttempts', `expected an integer from 1 to ${LIMITS.maxAttempts}`);
    }
    out.maxAttempts = o.maxAttempts as number;
  }
  if (o.startAt !== undefined) out.startAt = parseStartAt(o.startAt);
  if (o.maxRuntimeSeconds !== undefined && o.maxRuntimeSeconds !== null) {
    if (typeof o.maxRuntimeSeconds !== 'number' || !Number.isFinite(o.maxRuntimeSeconds) || o.maxRuntimeSeconds <= 0) {
      bad('maxRuntimeSeconds', 'expected a positive number of seconds, or null');
    }
    out.maxRuntimeSeconds = o.maxRuntimeSeconds;
  } else if (o.maxRuntimeSeconds === null) out.maxRuntimeSeconds = null;
  if (o.deleteOnComplete !== undefined) {
    if (typeof o.deleteOnComplete !== 'boolean') bad('deleteOnComplete', 'expected a boolean');
    out.deleteOnComplete = o.deleteOnComplete;
  }
  if (o.coalesceId !== undefined) out.coalesceId = validateCoalesceId(o.coalesceId);
  if (o.backoff !== undefined) out.backoff = validateBackoff(o.backoff);
  return out;
}

function validateCoalesceId(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || value.length === 0 || value.length > LIMITS.coalesceIdLength) {
    bad('coalesceId', `expected null or a non-empty string of at most ${LIMITS.coalesceIdLength} characters`);
  }
  return value;
}

/**
 * Serialises a payload, refusing anything that would not come back the same from
 * `JSON.parse`: functions, symbols, BigInt, cycles, NaN/±Infinity, `undefined` at
 * the top level or inside arrays, and objects that are not plain (Date, Map, class
 * instances). `undefined` object properties are dropped, as JSON does.
 */
export function serializePayload(payload: unknown): string {
  // The common, valid payload takes the allocation-free walk; the one that builds
  // paths runs only to explain a refusal (or for very deep nesting).
  if (!plainJson(payload, 0)) checkJson(payload, '$', new Set());
  return JSON.stringify(payload);
}

/** True when `value` is certainly plain JSON; false means "look closer" (invalid, or nested past the depth cap, where cycles hide). */
function plainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth > 64) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!plainJson(value[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        if (!Object.hasOwn(value, key)) return false;
        const v = (value as Record<string, unknown>)[key];
        if (v !== undefined && !plainJson(v, depth + 1)) return false;
      }
      return Object.getOwnPropertySymbols(value).length === 0;
    }
    default:
      return false;
  }
}

function checkJson(value: unknown, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new PayloadNotSerializableError(path, `${value} is not a finite number`);
      return;
    case 'undefined':
      throw new PayloadNotSerializableError(path, 'undefined is not JSON');
    case 'bigint':
      throw new PayloadNotSerializableError(path, 'BigInt is not JSON (use a string)');
    case 'function':
      throw new PayloadNotSerializableError(path, 'a function is not JSON');
    case 'symbol':
      throw new PayloadNotSerializableError(path, 'a symbol is not JSON');
    case 'object': {
      if (value === null) return;
      if (seen.has(value)) throw new PayloadNotSerializableError(path, 'cyclic reference');
      seen.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) checkJson(value[i], `${path}[${i}]`, seen);
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) {
          const what = (value as object).constructor?.name ?? 'object';
          throw new PayloadNotSerializableError(path, `a ${what} is not a plain object${what === 'Date' ? ' (use toISOString())' : ''}`);
        }
        for (const key of Object.keys(value)) {
          const v = (value as Record<string, unknown>)[key];
          if (v !== undefined) checkJson(v, `${path}.${key}`, seen);
        }
        if (Object.getOwnPropertySymbols(value).length > 0) throw new PayloadNotSerializableError(path, 'symbol keys are not JSON');
      }
      seen.delete(value);
      return;
    }
  }
}

/**
 * Turns (type, payload, options) into a validated `NewJob`: merges the type's
 * default options with the call's, derives the coalesce id, serialises the
 * payload. Throws before anything is stored.
 */
export function prepareJob<P>(type: JobDefinition<P> | string, payload: P, options: EnqueueOptions = {}): NewJob {
  const def = typeof type === 'string' ? undefined : type;
  const name = typeof type === 'string' ? type : type?.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > LIMITS.nameLength) {
    bad('type', 'expected a job definition or a non-empty type name');
  }
  const opts = { ...(def?.options ?? {}), ...validateEnqueueOptions(options ?? {}) };
  const payloadJson = serializePayload(payload);
  let coalesceId: string | null = null;
  if (Object.hasOwn(opts, 'coalesceId')) coalesceId = opts.coalesceId ?? null;
  else if (def?.coalesceId) coalesceId = validateCoalesceId(def.coalesceId(payload));
  return {
    type: name,
    payload,
    payloadJson,
    queueName: opts.queueName ?? 'default',
    priority: opts.priority ?? 0,
    maxAttempts: opts.maxAttempts ?? 1,
    startAt: opts.startAt instanceof Date ? opts.startAt : null,
    maxRuntimeSeconds: opts.maxRuntimeSeconds ?? null,
    deleteOnComplete: opts.deleteOnComplete ?? true,
    coalesceId,
    backoff: opts.backoff ?? null,
  };
}

/** `maxAttempts` after a retry with mulligan: one more, unless already at the cap (20). */
export function mulliganMaxAttempts(maxAttempts: number): number {
  return maxAttempts < LIMITS.mulliganCap ? maxAttempts + 1 : maxAttempts;
}

/** Milliseconds to wait before retry number `attemptNumber + 1`, given the attempt that just failed. */
export function backoffDelayMs(backoff: BackoffOption | null, attemptNumber: number): number {
  if (backoff === null || backoff === undefined) return 0;
  if (typeof backoff === 'number') return backoff;
  if (backoff.type === 'fixed') return backoff.delayMs;
  const exp = backoff.delayMs * 2 ** Math.max(0, attemptNumber - 1);
  return Math.min(exp, backoff.maxDelayMs ?? Number.MAX_SAFE_INTEGER);
}

/**
 * The record of a job a store has just inserted from `job` (status `queued`,
 * attempt 0, `startAt` = now when unscheduled), without reading it back. The
 * payload is decoded from `payloadJson`, so the record never aliases the caller's
 * objects.
 */
export function newJobRecord(id: string, job: NewJob, now: number, coalesced: boolean): EnqueuedJob {
  return {
    id,
    type: job.type,
    payload: JSON.parse(job.payloadJson) as unknown,
    queueName: job.queueName,
    status: 'queued',
    priority: job.priority,
    attemptNumber: 0,
    maxAttempts: job.maxAttempts,
    coalesceId: job.coalesceId,
    maxRuntimeSeconds: job.maxRuntimeSeconds,
    deleteOnComplete: job.deleteOnComplete,
    errorMessage: null,
    backoff: job.backoff === null || typeof job.backoff === 'number' ? job.backoff : { ...job.backoff },
    createdAt: new Date(now),
    startAt: new Date(job.startAt === null ? now : job.startAt.getTime()),
    startedAt: null,
    endedAt: null,
    coalesced,
  };
}
