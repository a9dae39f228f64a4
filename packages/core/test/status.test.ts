import { describe, expect, it } from 'vitest';
import { ALL_STATUSES, assertTransition, canTransition, InvalidStateChangeError, JobStatus } from '../src/index.ts';

// The whole 6×6 table, written out so a change to the status machine shows up here.
const ALLOWED: Record<string, string[]> = {
  unqueued: ['queued'],
  queued: ['running'],
  running: ['wait_async', 'completed', 'failed', 'queued'],
  wait_async: ['running', 'completed', 'failed', 'queued', 'wait_async'],
  completed: [],
  failed: ['queued'],
};

describe('canTransition', () => {
  it('has six statuses with the SPEC names', () => {
    expect(ALL_STATUSES).toEqual(['unqueued', 'queued', 'running', 'wait_async', 'completed', 'failed']);
    expect(JobStatus.WaitAsync).toBe('wait_async');
  });

  for (const from of ALL_STATUSES) {
    for (const to of ALL_STATUSES) {
      const allowed = ALLOWED[from]!.includes(to);
      it(`${from} -> ${to} is ${allowed ? 'allowed' : 'refused'}`, () => {
        expect(canTransition(from, to)).toBe(allowed);
        if (allowed) expect(() => assertTransition(from, to)).not.toThrow();
        else {
          const err = (() => {
            try {
              assertTransition(from, to, '7');
            } catch (e) {
              return e;
            }
          })();
          expect(err).toBeInstanceOf(InvalidStateChangeError);
          expect(err).toMatchObject({ code: 'JQ_INVALID_STATE_CHANGE', from, to });
        }
      });
    }
  }

  it('a status to itself is allowed only for wait_async', () => {
    expect(ALL_STATUSES.filter((s) => canTransition(s, s))).toEqual(['wait_async']);
  });

  it('refuses strings that are not statuses', () => {
    expect(canTransition('bogus' as never, 'queued')).toBe(false);
    expect(canTransition('queued', 'bogus' as never)).toBe(false);
  });
});
