import type { Store } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { eventually, gate, req, type StoreConformanceOptions, useKit } from '../harness.ts';

/** Exclusive claims under concurrency, and the Worker's own options. */
export function concurrencyTests<S extends Store>(options: StoreConformanceOptions<S>): void {
  describe(`${options.name}: concurrency`, () => {
    const kit = useKit(options);

    it('hands each job to exactly one of many concurrent workers', async () => {
      const { store, def, worker } = kit();
      const counts = new Map<number, number>();
      const t = def<number>({
        run: async (n) => {
          counts.set(n, (counts.get(n) ?? 0) + 1);
          await new Promise((r) => setImmediate(r));
        },
      });
      const total = 400;
      await store.enqueueMany(Array.from({ length: total }, (_, i) => ({ type: t, payload: i, options: { priority: i % 4 } })));
      const ws = Array.from({ length: options.workers ?? 6 }, () => worker([t], { concurrency: 4, exitIfNoJobs: true }));
      await Promise.all(ws.map((w) => w.start()));
      expect(counts.size).toBe(total);
      expect([...counts.values()].every((c) => c === 1)).toBe(true);
      expect(ws.reduce((n, w) => n + w.jobsProcessed, 0)).toBe(total);
      expect(await store.count()).toBe(0);
    });

    it('concurrent raw claims never return the same job twice', async () => {
      const { store, def } = kit();
      const t = def<number>({ run: () => {} });
      await store.enqueueMany(Array.from({ length: 100 }, (_, i) => ({ type: t, payload: i })));
      const batches = await Promise.all(Array.from({ length: 30 }, () => store.claim(req(5))));
      const ids = batches.flat().map((c) => c.job.id);
      expect(ids).toHaveLength(100);
      expect(new Set(ids).size).toBe(100);
    });
  });

  describe(`${options.name}: worker options`, () => {
    const kit = useKit(options);

    it('runs up to `concurrency` jobs at once', async () => {
      const { store, def, worker } = kit();
      let inFlight = 0;
      let peak = 0;
      const t = def({
        run: async () => {
          peak = Math.max(peak, ++inFlight);
          await new Promise((r) => setTimeout(r, 10));
          inFlight--;
        },
      });
      await store.enqueueMany(Array.from({ length: 20 }, () => ({ type: t, payload: {} })));
      await worker([t], { concurrency: 3, exitIfNoJobs: true }).start();
      expect(peak).toBe(3);
    });

    it('exitAfterNJobs takes exactly N jobs and leaves the rest queued', async () => {
      const { store, def, worker } = kit();
      const t = def({ run: () => {} });
      await store.enqueueMany(Array.from({ length: 10 }, () => ({ type: t, payload: {} })));
      const w = worker([t], { concurrency: 3, exitAfterNJobs: 4 });
      await w.start();
      expect(w.jobsProcessed).toBe(4);
      expect(w.stopReason).toBe('max-jobs');
      expect(await store.count({ status: 'queued' })).toBe(6);
    });

    it('binds to a queue, or to several, or to all when omitted', async () => {
      const { store, def, worker } = kit();
      const ran: string[] = [];
      const t = def<string>({ run: (q) => void ran.push(q) });
      for (const q of ['a', 'b', 'c']) await store.enqueue(t, q, { queueName: q });
      await worker([t], { queueName: 'b', exitIfNoJobs: true }).start();
      expect(ran).toEqual(['b']);
      await worker([t], { queueName: ['c', 'a'], exitIfNoJobs: true }).start();
      expect(ran.sort()).toEqual(['a', 'b', 'c']);
      await store.enqueue(t, 'z', { queueName: 'z' });
      await worker([t], { exitIfNoJobs: true }).start();
      expect(ran).toContain('z');
    });

    it('stop() takes no more jobs; start() resolves once in-flight jobs settle', async () => {
      const { store, def, worker } = kit();
      const g = gate();
      const started: number[] = [];
      const t = def<number>({
        run: async (n) => {
          started.push(n);
          await g.promise;
        },
        options: { deleteOnComplete: false },
      });
      const jobs = await store.enqueueMany([1, 2, 3].map((n) => ({ type: t, payload: n })));
      const w = worker([t]);
      let resolved = false;
      const done = w.start().then(() => (resolved = true));
      await eventually(() => started.length === 1, 'first job started');
      w.stop();
      await new Promise((r) => setTimeout(r, 30));
      expect(resolved).toBe(false);
      g.open();
      await done;
      expect(started).toEqual([1]);
      expect(w.stopReason).toBe('stopped');
      expect((await store.get(jobs[0]!.id)).status).toBe('completed');
      expect((await store.get(jobs[1]!.id)).status).toBe('queued');
      expect((await store.get(jobs[1]!.id)).attemptNumber).toBe(0);
    });

    it('an idle worker picks up a job enqueued later, and ctx carries the record and the store', async () => {
      const { store, def, worker } = kit();
      const seen: string[] = [];
      const t = def<string>({
        run: async (p, ctx) => {
          seen.push(`${p}:${ctx.job.id}:${ctx.job.status}`);
          await ctx.store.enqueue(follow, `after-${p}`);
        },
      });
      const follow = def<string>({ run: (p) => void seen.push(p) });
      // A long poll interval: stores with push wake-ups start the job at once; others within a second.
      const w = worker([t, follow], { wakeupEvery: store.capabilities.pushWakeups ? 60 : 1 });
      const done = w.start();
      await new Promise((r) => setTimeout(r, 50));
      const job = await store.enqueue(t, 'late');
      await eventually(() => seen.length === 2, 'late job and its follow-up ran', 15_000);
      w.stop();
      await done;
      expect(seen).toEqual([`late:${job.id}:running`, 'after-late']);
    });

    it('emits typed lifecycle events and counts jobsProcessed', async () => {
      const { store, def, worker } = kit();
      const t = def<string>({
        run: (p) => {
          if (p === 'bad') throw new Error('bad');
        },
      });
      await store.enqueueMany(['ok', 'bad'].map((p) => ({ type: t, payload: p })));
      const w = worker([t], { exitIfNoJobs: true });
      const events: string[] = [];
      w.on('job:start', (j) => events.push(`start:${String(j.payload)}`));
      w.on('job:complete', (j) => events.push(`complete:${String(j.payload)}`));
      w.on('job:fail', (j, e) => events.push(`fail:${String(j.payload)}:${e}`));
      w.on('worker:stop', (r) => events.push(`stop:${r}`));
      await w.start();
      expect(events).toEqual(['start:ok', 'complete:ok', 'start:bad', 'fail:bad:bad', 'stop:no-jobs']);
      expect(w.jobsProcessed).toBe(2);
    });
  });
}
