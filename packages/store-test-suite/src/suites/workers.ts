import { type Store, Worker } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { eventually, gate, req, sleep, type StoreConformanceOptions, useKit } from '../harness.ts';

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

    it('an idle worker misses no job enqueued just as its previous job settles', async () => {
      const { store, def, worker } = kit();
      const n = 15;
      const ran: number[] = [];
      const t = def<number>({ run: (i) => void ran.push(i) });
      // With push wake-ups, a poll interval longer than the test: only a wake-up can start the next job.
      const w = worker([t], { wakeupEvery: store.capabilities.pushWakeups ? 120 : 0.05 });
      // Each job is enqueued from the previous one's settle, while the worker decides
      // whether to wait: the moment a wake-up would be lost. Small random delays move
      // the enqueue before, into and after the start of the wait.
      w.on('job:complete', (job) => {
        const i = job.payload as number;
        if (i + 1 >= n) return;
        const next = () => void store.enqueue(t, i + 1);
        if (i % 3 === 0) next();
        else setTimeout(next, Math.floor(Math.random() * 3));
      });
      const done = w.start();
      await store.enqueue(t, 0);
      await eventually(() => ran.length === n, `all ${n} jobs ran (got ${ran.length})`, 20_000);
      w.stop();
      await done;
      expect(ran).toEqual(Array.from({ length: n }, (_, i) => i));
    });

    it('an idle worker claims and waits about once per job at a low arrival rate', async (ctx) => {
      const { store, def } = kit();
      // A polling store is asked once per poll by design.
      if (!store.capabilities.pushWakeups) ctx.skip();
      const calls = { claim: 0, waitForWork: 0 };
      // Counts the worker's store calls: a slot whose settle found no next job must neither
      // make the worker claim again nor interrupt a wait that is already in progress.
      const counted = new Proxy(store, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if ((prop === 'claim' || prop === 'waitForWork') && typeof v === 'function') {
            return (...args: unknown[]) => {
              calls[prop]++;
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      const ran: number[] = [];
      const t = def<number>({ run: (i) => void ran.push(i) });
      const n = 10;
      // Concurrency 1 waits only when its one slot is free; 4 waits for work while a job runs.
      for (const concurrency of [1, 4]) {
        calls.claim = 0;
        calls.waitForWork = 0;
        ran.length = 0;
        const w = new Worker(counted, { jobs: [t], concurrency, enableJitter: false, logger: 'silent', detectHungJobsEvery: 0, wakeupEvery: 120 });
        const done = w.start();
        try {
          await sleep(30);
          for (let i = 0; i < n; i++) {
            await store.enqueue(t, i);
            await eventually(() => ran.length === i + 1, `job ${i} ran`, 10_000);
            await sleep(20);
          }
        } finally {
          w.stop();
          await done;
        }
        // One wait per job: a finishing slot that found the queue empty leaves the wait alone.
        expect(calls.waitForWork, `waits at concurrency ${concurrency}`).toBeLessThanOrEqual(n + 3);
        // One claim per wake-up: a claim that returned fewer jobs than it asked for is not followed by another.
        expect(calls.claim, `claims at concurrency ${concurrency}`).toBeLessThanOrEqual(n + 3);
      }
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
