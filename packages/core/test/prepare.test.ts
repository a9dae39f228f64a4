import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  defineJob,
  getJobDefinition,
  InvalidJobOptionsError,
  JobLockedError,
  JobNotFoundError,
  JQJobsError,
  mulliganMaxAttempts,
  PayloadNotSerializableError,
  prepareJob,
  serializePayload,
  UnknownJobTypeError,
  InvalidStateError,
  InvalidStateChangeError,
} from '../src/index.ts';

describe('prepareJob', () => {
  it('merges type defaults with per-enqueue options and derives the coalesce id', () => {
    const t = defineJob<{ id: number }>({ name: 'prep-a', run: () => {}, options: { queueName: 'q', priority: 3 }, coalesceId: (p) => `a:${p.id}` });
    const j = prepareJob(t, { id: 7 }, { priority: 9 });
    expect(j).toMatchObject({ type: 'prep-a', queueName: 'q', priority: 9, maxAttempts: 1, deleteOnComplete: true, coalesceId: 'a:7', payloadJson: '{"id":7}', startAt: null });
    expect(prepareJob(t, { id: 7 }, { coalesceId: null }).coalesceId).toBeNull();
    expect(prepareJob(t, { id: 7 }, { coalesceId: 'explicit' }).coalesceId).toBe('explicit');
    expect(prepareJob(t, { id: 1 }, { startAt: 0 }).startAt?.getTime()).toBe(0);
  });

  it('rejects a bad definition at defineJob time', () => {
    expect(() => defineJob({ name: '', run: () => {} })).toThrow(InvalidJobOptionsError);
    expect(() => defineJob({ name: 'x', run: 5 as never })).toThrow(InvalidJobOptionsError);
    expect(() => defineJob({ name: 'x', run: () => {}, options: { maxAttempts: 0 } })).toThrow(InvalidJobOptionsError);
  });

  it('registers definitions by name, the latest winning', () => {
    const a = defineJob({ name: 'prep-reg', run: () => {} });
    expect(getJobDefinition('prep-reg')).toBe(a);
    const b = defineJob({ name: 'prep-reg', run: () => {} });
    expect(getJobDefinition('prep-reg')).toBe(b);
    expect(getJobDefinition('nope')).toBeUndefined();
  });

  it('drops undefined object properties like JSON, refuses everything else that does not round-trip', () => {
    expect(serializePayload({ a: 1, b: undefined })).toBe('{"a":1}');
    expect(serializePayload(Object.create(null))).toBe('{}');
    const shared = { x: 1 };
    expect(serializePayload({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    for (const bad of [undefined, () => 1, 1n, NaN, Infinity, [undefined], new Date(), new (class Foo {})(), { [Symbol('k')]: 1 }]) {
      expect(() => serializePayload(bad)).toThrow(PayloadNotSerializableError);
    }
    expect(() => serializePayload({ list: [1, { d: new Date() }] })).toThrow(/\$\.list\[1\]\.d.*toISOString/);
  });

  it('accepts deep nesting and still finds a cycle or a bad value far down, with its path', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 200; i++) deep = { n: [deep] };
    expect(JSON.parse(serializePayload(deep))).toEqual(deep);
    const ring: Record<string, unknown> = {};
    let at = ring;
    for (let i = 0; i < 100; i++) at = (at.next = {}) as Record<string, unknown>;
    at.next = ring;
    expect(() => serializePayload(ring)).toThrow(/cyclic/);
    expect(() => serializePayload({ a: { b: [0, 1, { c: -Infinity }] } })).toThrow(/\$\.a\.b\[2\]\.c/);
  });
});

describe('retry arithmetic', () => {
  it('mulligan adds one attempt below 20 and never goes past 20', () => {
    expect(mulliganMaxAttempts(1)).toBe(2);
    expect(mulliganMaxAttempts(19)).toBe(20);
    expect(mulliganMaxAttempts(20)).toBe(20);
    expect(mulliganMaxAttempts(50)).toBe(50);
  });

  it('computes backoff delays', () => {
    expect(backoffDelayMs(null, 1)).toBe(0);
    expect(backoffDelayMs(250, 4)).toBe(250);
    expect(backoffDelayMs({ type: 'fixed', delayMs: 10 }, 3)).toBe(10);
    expect([1, 2, 3, 4, 5].map((a) => backoffDelayMs({ type: 'exponential', delayMs: 100, maxDelayMs: 1000 }, a))).toEqual([100, 200, 400, 800, 1000]);
  });
});

describe('errors', () => {
  it('carry stable codes, names and data', () => {
    const cases: [JQJobsError, string][] = [
      [new JobNotFoundError('1'), 'JQ_JOB_NOT_FOUND'],
      [new JobLockedError('1'), 'JQ_JOB_LOCKED'],
      [new InvalidStateChangeError('queued', 'failed'), 'JQ_INVALID_STATE_CHANGE'],
      [new InvalidStateError('1', 'failed', 'wait_async'), 'JQ_INVALID_STATE'],
      [new InvalidJobOptionsError('priority', 'bad'), 'JQ_INVALID_JOB_OPTIONS'],
      [new PayloadNotSerializableError('$', 'bad'), 'JQ_PAYLOAD_NOT_SERIALIZABLE'],
      [new UnknownJobTypeError('t'), 'JQ_UNKNOWN_JOB_TYPE'],
    ];
    for (const [err, code] of cases) {
      expect(err.code).toBe(code);
      expect(err).toBeInstanceOf(JQJobsError);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe(err.constructor.name);
    }
    expect(new InvalidStateError('1', 'failed', 'wait_async').status).toBe('failed');
  });
});
