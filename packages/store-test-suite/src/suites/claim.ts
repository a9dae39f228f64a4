import { JobNotFoundError, type Store } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { req, type StoreConformanceOptions, useKit } from '../harness.ts';

/** Claim order (priority, run time, FIFO), delayed jobs, queue binding, what a claim sets. */
export function claimOrderTests<S extends Store>(options: StoreConformanceOptions<S>): void {
  describe(`${options.name}: claim and order`, () => {
    const kit = useKit(options);

    it('takes the highest priority first, then the earliest startAt, then FIFO', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def<string>({ run: () => {} });
      const base = clock.now();
      await store.enqueue(t, 'p0-first', { priority: 0 });
      await store.enqueue(t, 'p0-second', { priority: 0 });
      await store.enqueue(t, 'p5-late', { priority: 5, startAt: base - 1000 });
      await store.enqueue(t, 'p5-early', { priority: 5, startAt: base - 5000 });
      await store.enqueue(t, 'p-1', { priority: -1 });
      await store.enqueue(t, 'p0-earlier-start', { priority: 0, startAt: base - 10 });
      await store.enqueue(t, 'p9-future', { priority: 9, startAt: base + 60_000 });
      const order: string[] = [];
      for (;;) {
        const [c] = await store.claim(req(1));
        if (!c) break;
        order.push(c.job.payload as string);
      }
      expect(order).toEqual(['p5-early', 'p5-late', 'p0-earlier-start', 'p0-first', 'p0-second', 'p-1']);
      clock.advance(60_000);
      const [late] = await store.claim(req(1));
      expect(late?.job.payload).toBe('p9-future');
    });

    it('claims up to the limit in one call, in order', async () => {
      const { store, def } = kit();
      const t = def<number>({ run: () => {} });
      for (let i = 0; i < 10; i++) await store.enqueue(t, i, { priority: i });
      const got = await store.claim(req(4));
      expect(got.map((c) => c.job.payload)).toEqual([9, 8, 7, 6]);
      expect(new Set(got.map((c) => c.claim.token)).size).toBe(4);
      const rest = await store.claim(req(100));
      expect(rest.map((c) => c.job.payload)).toEqual([5, 4, 3, 2, 1, 0]);
      expect(await store.claim(req(5))).toEqual([]);
    });

    it('marks a claimed job running: attempt + 1, startedAt now, endedAt and errorMessage cleared', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def({ run: () => {} });
      const job = await store.enqueue(t, {}, { maxAttempts: 3 });
      clock.advance(250);
      const [c] = await store.claim(req(1));
      expect(c?.job).toMatchObject({ id: job.id, status: 'running', attemptNumber: 1, errorMessage: null, endedAt: null });
      expect(c?.job.startedAt?.getTime()).toBe(clock.now());
      expect(await store.get(job.id)).toMatchObject({ status: 'running', attemptNumber: 1 });
      await store.settle(c!.claim, { status: 'queued', error: 'boom', delayMs: 0, maxAttempts: 3 });
      expect(await store.get(job.id)).toMatchObject({ status: 'queued', errorMessage: 'boom', attemptNumber: 1 });
      clock.advance(250);
      const [c2] = await store.claim(req(1));
      expect(c2?.job).toMatchObject({ attemptNumber: 2, errorMessage: null, endedAt: null });
      expect(c2?.job.startedAt?.getTime()).toBe(clock.now());
    });

    it('binds to queues: a claim takes only from the queues it names; null means all', async () => {
      const { store, def } = kit();
      const t = def<string>({ run: () => {} });
      await store.enqueue(t, 'a', { queueName: 'qa' });
      await store.enqueue(t, 'b', { queueName: 'qb', priority: 1 });
      await store.enqueue(t, 'c', { queueName: 'q "quoted" ; {tag} ✓' });
      expect(await store.claim(req(5, ['nope']))).toEqual([]);
      expect((await store.claim(req(5, ['qa']))).map((c) => c.job.payload)).toEqual(['a']);
      expect((await store.claim(req(5, ['q "quoted" ; {tag} ✓']))).map((c) => c.job.payload)).toEqual(['c']);
      await store.enqueue(t, 'd', { queueName: 'qa', priority: 2 });
      expect((await store.claim(req(5, null))).map((c) => c.job.payload)).toEqual(['d', 'b']);
    });

    it('takes across several named queues by the global order', async () => {
      const { store, def } = kit();
      const t = def<string>({ run: () => {} });
      await store.enqueue(t, 'x1', { queueName: 'x' });
      await store.enqueue(t, 'y9', { queueName: 'y', priority: 9 });
      await store.enqueue(t, 'z', { queueName: 'z', priority: 100 });
      await store.enqueue(t, 'x2', { queueName: 'x' });
      expect((await store.claim(req(10, ['x', 'y']))).map((c) => c.job.payload)).toEqual(['y9', 'x1', 'x2']);
    });

    it('release hands claims back untouched: queued, attempt as before, same place in line', async () => {
      const { store, def } = kit();
      const t = def<number>({ run: () => {} });
      for (let i = 0; i < 3; i++) await store.enqueue(t, i);
      const claims = await store.claim(req(2));
      await store.release(claims.map((c) => c.claim));
      for (const c of claims) expect(await store.get(c.job.id)).toMatchObject({ status: 'queued', attemptNumber: 0 });
      expect((await store.claim(req(3))).map((c) => c.job.payload)).toEqual([0, 1, 2]);
      // A stale claim is ignored.
      await store.release(claims.map((c) => c.claim));
      expect(await store.count({ status: 'running' })).toBe(3);
    });

    it('a restarted job is due from the moment of the restart and keeps its priority', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def<string>({ run: () => {} });
      const a = await store.enqueue(t, 'a', { startAt: clock.now() + 3_600_000 });
      clock.advance(10);
      await store.enqueue(t, 'b');
      clock.advance(10);
      const r = await store.restart(a.id);
      expect(r).toMatchObject({ status: 'queued', startAt: null, startedAt: null, endedAt: null, attemptNumber: 0 });
      expect((await store.claim(req(2))).map((c) => c.job.payload)).toEqual(['b', 'a']);
      await expect(store.restart('424242')).rejects.toBeInstanceOf(JobNotFoundError);
    });
  });
}
