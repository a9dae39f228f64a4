import type { Store } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { req, type StoreConformanceOptions, useKit } from '../harness.ts';

/** Coalescing: one job per coalesce id in the store, the stored job returned, atomic under concurrency. */
export function coalescingTests<S extends Store>(options: StoreConformanceOptions<S>): void {
  describe(`${options.name}: coalescing`, () => {
    const kit = useKit(options);

    it('returns the existing job as stored, marked coalesced, and creates nothing', async () => {
      const { store, def } = kit();
      const t = def<{ v: number }>({ run: () => {} });
      const first = await store.enqueue(t, { v: 1 }, { coalesceId: 'same' });
      const second = await store.enqueue(t, { v: 2 }, { coalesceId: 'same', priority: 9 });
      expect(second.coalesced).toBe(true);
      expect(second.id).toBe(first.id);
      expect(second.payload).toEqual({ v: 1 });
      expect(second.priority).toBe(0);
      expect(await store.count()).toBe(1);
      expect(await store.getByCoalesceId('same')).toMatchObject({ id: first.id, payload: { v: 1 } });
      expect(await store.getByCoalesceId('other')).toBeNull();
    });

    it('coalesces against a job in any status, failed included, and not after it is deleted', async () => {
      const { store, def } = kit();
      const t = def({ run: () => {} });
      const j = await store.enqueue(t, {}, { coalesceId: 'k' });
      const [c] = await store.claim(req(1));
      expect((await store.enqueue(t, {}, { coalesceId: 'k' })).id).toBe(j.id);
      await store.settle(c!.claim, { status: 'failed', error: 'x' });
      const again = await store.enqueue(t, {}, { coalesceId: 'k' });
      expect(again).toMatchObject({ id: j.id, coalesced: true, status: 'failed' });
      await store.delete(j.id);
      const fresh = await store.enqueue(t, {}, { coalesceId: 'k' });
      expect(fresh.coalesced).toBe(false);
      expect(fresh.id).not.toBe(j.id);
    });

    it('coalesces across queues and types (the scope is the whole store)', async () => {
      const { store, def } = kit();
      const a = def({ run: () => {} });
      const b = def({ run: () => {} });
      const first = await store.enqueue(a, {}, { coalesceId: 'global', queueName: 'q1' });
      const second = await store.enqueue(b, {}, { coalesceId: 'global', queueName: 'q2' });
      expect(second).toMatchObject({ id: first.id, type: a.name, queueName: 'q1', coalesced: true });
    });

    it('derives the coalesce id from the job type, and a per-enqueue null turns it off', async () => {
      const { store, def } = kit();
      const t = def<{ user: string }>({ run: () => {}, coalesceId: (p) => `reindex:${p.user}` });
      const a = await store.enqueue(t, { user: 'ann' });
      const b = await store.enqueue(t, { user: 'ann' });
      const c = await store.enqueue(t, { user: 'bob' });
      expect(a.coalesceId).toBe('reindex:ann');
      expect(b).toMatchObject({ id: a.id, coalesced: true });
      expect(c.id).not.toBe(a.id);
      const d = await store.enqueue(t, { user: 'ann' }, { coalesceId: null });
      expect(d).toMatchObject({ coalesced: false, coalesceId: null });
      expect(await store.count()).toBe(3);
    });

    it('null never coalesces', async () => {
      const { store, def } = kit();
      const t = def({ run: () => {}, coalesceId: () => null });
      for (let i = 0; i < 5; i++) await store.enqueue(t, {});
      await store.enqueue(t, {}, { coalesceId: null });
      expect(await store.count()).toBe(6);
    });

    it('many concurrent enqueues of one coalesce id create exactly one job', async () => {
      const { store, def } = kit();
      const t = def<number>({ run: () => {} });
      const results = await Promise.all(Array.from({ length: 64 }, (_, i) => store.enqueue(t, i, { coalesceId: 'race' })));
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      expect(results.filter((r) => !r.coalesced)).toHaveLength(1);
      const winner = results.find((r) => !r.coalesced)!;
      expect(results.every((r) => r.payload === winner.payload)).toBe(true);
      expect(await store.count()).toBe(1);
    });

    it('enqueueMany coalesces within the batch and against stored jobs', async () => {
      const { store, def } = kit();
      const t = def<string>({ run: () => {} });
      const old = await store.enqueue(t, 'old', { coalesceId: 'o' });
      const res = await store.enqueueMany([
        { type: t, payload: 'a1', options: { coalesceId: 'a' } },
        { type: t, payload: 'a2', options: { coalesceId: 'a' } },
        { type: t, payload: 'o2', options: { coalesceId: 'o' } },
        { type: t, payload: 'n' },
      ]);
      expect(res.map((r) => [r.payload, r.coalesced])).toEqual([
        ['a1', false],
        ['a1', true],
        ['old', true],
        ['n', false],
      ]);
      expect(res[2]!.id).toBe(old.id);
      expect(await store.count()).toBe(3);
    });
  });
}
