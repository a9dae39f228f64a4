import { InvalidJobOptionsError, JobNotFoundError, PayloadNotSerializableError, type Store } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { type StoreConformanceOptions, useKit } from '../harness.ts';

/** Enqueue, records, reads, listing and paging, stats, and the bad-input rules. */
export function enqueueTests<S extends Store>(options: StoreConformanceOptions<S>): void {
  describe(`${options.name}: enqueue and read`, () => {
    const kit = useKit(options);

    it('stores a queued job with the documented defaults', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def<{ to: string }>({ run: () => {} });
      const job = await store.enqueue(t, { to: 'a@example.com' });
      expect(job).toMatchObject({
        type: t.name,
        payload: { to: 'a@example.com' },
        queueName: 'default',
        status: 'queued',
        priority: 0,
        attemptNumber: 0,
        maxAttempts: 1,
        coalesceId: null,
        maxRuntimeSeconds: null,
        deleteOnComplete: true,
        errorMessage: null,
        startedAt: null,
        endedAt: null,
        coalesced: false,
      });
      expect(typeof job.id).toBe('string');
      expect(job.createdAt).toBeInstanceOf(Date);
      expect(job.createdAt.getTime()).toBe(clock.now());
      expect(job.startAt?.getTime()).toBe(clock.now());
      const read = await store.get(job.id);
      const { coalesced: _c, ...rest } = job;
      expect(read).toEqual(rest);
      expect(JSON.parse(JSON.stringify(read)).id).toBe(job.id);
    });

    it('takes defaults from the job type and lets each enqueue override them', async () => {
      const { store, def } = kit();
      const t = def({ run: () => {}, options: { queueName: 'mail', priority: 5, maxAttempts: 3, deleteOnComplete: false, maxRuntimeSeconds: 60 } });
      const a = await store.enqueue(t, {});
      expect(a).toMatchObject({ queueName: 'mail', priority: 5, maxAttempts: 3, deleteOnComplete: false, maxRuntimeSeconds: 60 });
      const b = await store.enqueue(t, {}, { queueName: 'other', priority: -2, maxAttempts: 1, backoff: { type: 'exponential', delayMs: 10, maxDelayMs: 100 } });
      expect(b).toMatchObject({ queueName: 'other', priority: -2, maxAttempts: 1, deleteOnComplete: false, backoff: { type: 'exponential', delayMs: 10, maxDelayMs: 100 } });
    });

    it('accepts a type name instead of a definition, and round-trips JSON payloads', async () => {
      const { store } = kit();
      const payload = { s: 'héllo ✓ "quoted" \\ back', n: -1.5, big: 2 ** 53 - 1, b: false, nil: null, arr: [1, 'two', { three: [3] }], nested: { deep: { deeper: {} } } };
      const job = await store.enqueue('kit:by-name', payload, { startAt: '2030-01-01T00:00:00.000Z' });
      expect(job.type).toBe('kit:by-name');
      expect((await store.get(job.id)).payload).toEqual(payload);
      expect(job.startAt?.toISOString()).toBe('2030-01-01T00:00:00.000Z');
      for (const p of ['just a string', 42, true, null, []]) expect((await store.get((await store.enqueue('kit:by-name', p)).id)).payload).toEqual(p);
    });

    it('answers JobNotFoundError for ids that do not exist or are not ids at all', async () => {
      const { store } = kit();
      await store.enqueue('kit:x', {});
      for (const id of ['999999', '1; drop table jobs', "' OR '1'='1", '', 'abc', '-1', '1.5', '99999999999999999999999', '{x}', '\u0000']) {
        await expect(store.get(id), id).rejects.toBeInstanceOf(JobNotFoundError);
        await expect(store.restart(id), id).rejects.toBeInstanceOf(JobNotFoundError);
        await expect(store.delete(id), id).rejects.toBeInstanceOf(JobNotFoundError);
      }
      expect(await store.count()).toBe(1);
    });

    it('refuses payloads that do not survive JSON, storing nothing', async () => {
      const { store, def } = kit();
      const t = def<unknown>({ run: () => {} });
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic.self = cyclic;
      const bad: unknown[] = [() => 1, { f: () => 1 }, 10n, { n: 10n }, cyclic, NaN, { x: Infinity }, -Infinity, undefined, [1, undefined], new Date(), { when: new Date() }, new Map(), Symbol('s')];
      for (const payload of bad) {
        await expect(store.enqueue(t, payload)).rejects.toBeInstanceOf(PayloadNotSerializableError);
      }
      const err = await store.enqueue(t, { user: { id: 10n } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'JQ_PAYLOAD_NOT_SERIALIZABLE', path: '$.user.id' });
      expect(await store.count()).toBe(0);
    });

    it('refuses invalid options with InvalidJobOptionsError, storing nothing', async () => {
      const { store, def } = kit();
      const t = def({ run: () => {} });
      const bad: Record<string, unknown>[] = [
        { maxAttempts: -1 },
        { maxAttempts: 0 },
        { maxAttempts: 1.5 },
        { maxAttempts: '3' },
        { priority: 1.5 },
        { priority: 2 ** 40 },
        { priority: NaN },
        { queueName: '' },
        { queueName: 42 },
        { startAt: 'not a date' },
        { startAt: new Date(Number.NaN) },
        { startAt: {} },
        { maxRuntimeSeconds: -1 },
        { maxRuntimeSeconds: 0 },
        { deleteOnComplete: 'yes' },
        { coalesceId: '' },
        { coalesceId: 7 },
        { backoff: -5 },
        { backoff: { type: 'linear', delayMs: 1 } },
        { backoff: { type: 'exponential', delayMs: 100, maxDelayMs: 10 } },
        { qeueName: 'typo' },
      ];
      for (const o of bad) {
        await expect(store.enqueue(t, {}, o as never), JSON.stringify(o)).rejects.toBeInstanceOf(InvalidJobOptionsError);
      }
      expect(await store.count()).toBe(0);
    });

    it('enqueueMany is all or nothing and keeps input order', async () => {
      const { store, def } = kit();
      const t = def<{ i: number }>({ run: () => {} });
      await expect(
        store.enqueueMany([
          { type: t, payload: { i: 1 } },
          { type: t, payload: { i: 2 }, options: { maxAttempts: -1 } },
        ]),
      ).rejects.toBeInstanceOf(InvalidJobOptionsError);
      await expect(store.enqueueMany([{ type: t, payload: { i: 1 } }, { type: t, payload: { i: NaN } }])).rejects.toBeInstanceOf(PayloadNotSerializableError);
      expect(await store.count()).toBe(0);
      const jobs = await store.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ type: t, payload: { i }, options: { priority: i % 3 } })));
      expect(jobs.map((j) => (j.payload as { i: number }).i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(new Set(jobs.map((j) => j.id)).size).toBe(50);
      expect(await store.count()).toBe(50);
      expect(await store.enqueueMany([])).toEqual([]);
    });

    it('counts and lists with filters, paging in a stable order without repeats or gaps', async () => {
      const { store, def } = kit();
      const t = def({ run: () => {} });
      for (let i = 0; i < 37; i++) await store.enqueue(t, { i }, { queueName: i % 2 ? 'odd' : 'even', priority: i % 5 });
      expect(await store.count()).toBe(37);
      expect(await store.count({ queueName: 'odd' })).toBe(18);
      expect(await store.count({ queueName: 'none' })).toBe(0);
      expect(await store.count({ status: 'queued' })).toBe(37);
      expect(await store.count({ status: ['failed', 'running'] })).toBe(0);
      const seen: string[] = [];
      for (let offset = 0; ; offset += 10) {
        const page = await store.jobs({ limit: 10, offset });
        if (page.length === 0) break;
        seen.push(...page.map((j) => j.id));
      }
      expect(seen).toHaveLength(37);
      expect(new Set(seen).size).toBe(37);
      const again = (await store.jobs({ limit: 100 })).map((j) => j.id);
      expect(again).toEqual(seen);
      const even = await store.jobs({ queueName: 'even', status: 'queued', limit: 100 });
      expect(even).toHaveLength(19);
      expect(even.every((j) => j.queueName === 'even')).toBe(true);
      await expect(store.jobs({ limit: -1 })).rejects.toThrow();
      await expect(store.count({ status: 'bogus' as never })).rejects.toThrow(/unknown status/);
    });

    it('stats() gives counts per queue and status and the age of the oldest due job', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def({ run: () => {} });
      await store.enqueue(t, {}, { queueName: 'a' });
      clock.advance(1000);
      await store.enqueue(t, {}, { queueName: 'a' });
      await store.enqueue(t, {}, { queueName: 'b', startAt: clock.now() + 60_000 });
      clock.advance(500);
      const stats = await store.stats();
      const a = stats.find((s) => s.queueName === 'a');
      const b = stats.find((s) => s.queueName === 'b');
      expect(a?.counts).toEqual({ unqueued: 0, queued: 2, running: 0, wait_async: 0, completed: 0, failed: 0 });
      expect(a?.dueCount).toBe(2);
      expect(a?.oldestQueuedAgeMs).toBe(1500);
      expect(b?.counts.queued).toBe(1);
      // Scheduled for later: queued, but not due.
      expect(b?.dueCount).toBe(0);
      expect(b?.oldestQueuedAgeMs).toBeNull();
      // A scheduled job that is deleted, or restarted (due at once), stops counting as scheduled.
      const gone = await store.enqueue(t, {}, { queueName: 'b', startAt: clock.now() + 30_000 });
      const now = await store.enqueue(t, {}, { queueName: 'b', startAt: clock.now() + 30_000 });
      await store.delete(gone.id);
      await store.restart(now.id);
      expect((await store.stats()).find((s) => s.queueName === 'b')).toMatchObject({ counts: { queued: 2 }, dueCount: 1 });
      clock.advance(60_000);
      const later = await store.stats();
      expect(later.find((s) => s.queueName === 'b')).toMatchObject({ dueCount: 2, oldestQueuedAgeMs: 60_000 });
    });

    it('delete removes a job and runs its cleanup first', async () => {
      const { store, def } = kit();
      const cleaned: string[] = [];
      const t = def<{ k: string }>({ run: () => {}, cleanup: async (p, ctx) => void cleaned.push(`${p.k}:${(await ctx.store.get(ctx.job.id)).id}`) });
      const job = await store.enqueue(t, { k: 'x' });
      await store.delete(job.id);
      expect(cleaned).toEqual([`x:${job.id}`]);
      await expect(store.get(job.id)).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(store.delete(job.id)).rejects.toBeInstanceOf(JobNotFoundError);
    });
  });
}
