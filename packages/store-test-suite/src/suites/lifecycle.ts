import { JobNotFoundError, JobStatus, LIMITS, type Store } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { req, type StoreConformanceOptions, useKit } from '../harness.ts';

/** Complete, delete-on-complete, failure, retries with backoff, invalid return values, unknown types, mulligan. */
export function lifecycleTests<S extends Store>(options: StoreConformanceOptions<S>): void {
  describe(`${options.name}: complete, fail and retry`, () => {
    const kit = useKit(options);

    it('completes and deletes a job after its cleanup ran', async () => {
      const { store, def, worker } = kit();
      const events: string[] = [];
      const t = def<{ n: number }>({
        run: (p, ctx) => {
          events.push(`run:${p.n}:${ctx.job.status}:${ctx.job.attemptNumber}`);
        },
        cleanup: async (p, ctx) => {
          // Cleanup runs while the job still exists.
          events.push(`cleanup:${p.n}:${(await ctx.store.get(ctx.job.id)).id === ctx.job.id}`);
        },
      });
      const job = await store.enqueue(t, { n: 1 });
      const w = worker([t], { exitIfNoJobs: true });
      await w.start();
      expect(events).toEqual(['run:1:running:1', 'cleanup:1:true']);
      await expect(store.get(job.id)).rejects.toBeInstanceOf(JobNotFoundError);
      expect(w.jobsProcessed).toBe(1);
      expect(await store.count()).toBe(0);
    });

    it('keeps a completed job with deleteOnComplete: false; returning "completed" explicitly works too', async () => {
      const { store, def, worker } = kit();
      const t = def({ run: () => JobStatus.Completed, options: { deleteOnComplete: false } });
      const job = await store.enqueue(t, {});
      await worker([t], { exitIfNoJobs: true }).start();
      const done = await store.get(job.id);
      expect(done).toMatchObject({ status: 'completed', attemptNumber: 1, errorMessage: null });
      expect(done.endedAt).toBeInstanceOf(Date);
      expect(await store.count({ status: 'completed' })).toBe(1);
    });

    it('retries a throwing job up to maxAttempts, then fails it with the message and endedAt', async () => {
      const { store, def, worker } = kit();
      let runs = 0;
      const t = def({
        run: () => {
          runs++;
          throw new Error(`boom ${runs}`);
        },
        options: { maxAttempts: 3, deleteOnComplete: false },
      });
      const job = await store.enqueue(t, {});
      const w = worker([t], { exitIfNoJobs: true });
      const retries: string[] = [];
      w.on('job:retry', (_j, e) => retries.push(e));
      await w.start();
      expect(runs).toBe(3);
      expect(retries).toEqual(['boom 1', 'boom 2']);
      const failed = await store.get(job.id);
      expect(failed).toMatchObject({ status: 'failed', attemptNumber: 3, maxAttempts: 3, errorMessage: 'boom 3' });
      expect(failed.endedAt).toBeInstanceOf(Date);
      // Failed jobs stay until someone restarts or deletes them.
      expect(await store.count({ status: 'failed' })).toBe(1);
    });

    it('succeeds on a later attempt after failures', async () => {
      const { store, def, worker } = kit();
      let runs = 0;
      const t = def({
        run: () => {
          if (++runs < 2) throw new Error('flaky');
        },
        options: { maxAttempts: 5, deleteOnComplete: false },
      });
      const job = await store.enqueue(t, {});
      await worker([t], { exitIfNoJobs: true }).start();
      expect(await store.get(job.id)).toMatchObject({ status: 'completed', attemptNumber: 2 });
    });

    it('fails a job whose run returns an invalid value, with "Invalid return value"', async () => {
      const { store, def, worker } = kit();
      const values: unknown[] = ['done', 42, { ok: true }, JobStatus.Failed, JobStatus.Queued, null];
      const t = def<number>({ run: (i) => values[i] as never, options: { deleteOnComplete: false } });
      const jobs = await store.enqueueMany(values.map((_, i) => ({ type: t, payload: i })));
      await worker([t], { exitIfNoJobs: true }).start();
      for (const j of jobs) {
        const f = await store.get(j.id);
        expect(f.status).toBe('failed');
        expect(f.errorMessage).toContain('Invalid return value');
      }
    });

    it('waits for the backoff before a retry (fixed and exponential)', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def({ run: () => {}, options: { maxAttempts: 5, backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 3000 } } });
      const job = await store.enqueue(t, {});
      // Drive the claim/settle primitives directly, as a Worker does, to check the store's timing.
      const { backoffDelayMs } = await import('@jqjobs/core');
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 4; attempt++) {
        const [c] = await store.claim(req(1));
        expect(c?.job.attemptNumber).toBe(attempt);
        const delayMs = backoffDelayMs(c!.job.backoff, attempt);
        delays.push(delayMs);
        await store.settle(c!.claim, { status: 'queued', error: 'x', delayMs, maxAttempts: 5 });
        expect((await store.get(job.id)).startAt?.getTime()).toBe(clock.now() + delayMs);
        clock.advance(delayMs - 1);
        expect(await store.claim(req(1))).toEqual([]);
        clock.advance(1);
      }
      expect(delays).toEqual([1000, 2000, 3000, 3000]);
    });

    it('a Worker applies the backoff: the retry is not taken before it is due', async () => {
      const { store, clock, def, worker } = kit();
      let runs = 0;
      const t = def({
        run: () => {
          runs++;
          throw new Error('later');
        },
        options: { maxAttempts: 2, backoff: 60_000, deleteOnComplete: false },
      });
      const job = await store.enqueue(t, {});
      await worker([t], { exitIfNoJobs: true }).start();
      expect(runs).toBe(1);
      const q = await store.get(job.id);
      expect(q.status).toBe('queued');
      expect(q.startAt!.getTime() - clock.now()).toBeGreaterThan(50_000);
      clock.advance(61_000);
      await worker([t], { exitIfNoJobs: true }).start();
      expect(runs).toBe(2);
      expect(await store.get(job.id)).toMatchObject({ status: 'failed', attemptNumber: 2 });
    });

    it('fails a job of a type the worker does not know, naming the type, and moves on', async () => {
      const { store, def, worker } = kit();
      const known = def({ run: () => {}, options: { deleteOnComplete: false } });
      const unknown = await store.enqueue('kit:no-such-type', {}, { maxAttempts: 3 });
      const ok = await store.enqueue(known, {});
      await worker([known], { exitIfNoJobs: true }).start();
      const f = await store.get(unknown.id);
      expect(f.status).toBe('failed');
      expect(f.errorMessage).toContain('kit:no-such-type');
      expect((await store.get(ok.id)).status).toBe('completed');
    });

    it('mulligan: an interrupted job goes back to queued with maxAttempts + 1, capped at 20', async () => {
      const { store, def, worker } = kit();
      const started: string[] = [];
      const t = def<string>({
        run: (id, ctx) =>
          new Promise<void>((_, reject) => {
            started.push(id);
            ctx.signal.addEventListener('abort', () => reject(new Error('aborted')));
          }),
      });
      const a = await store.enqueue(t, 'a', { maxAttempts: 1 });
      const w = worker([t]);
      const done = w.start();
      while (started.length < 1) await new Promise((r) => setTimeout(r, 5));
      expect(await w.shutdown(0)).toBe(false);
      await done;
      expect(await store.get(a.id)).toMatchObject({ status: 'queued', maxAttempts: 2, attemptNumber: 1 });

      await store.delete(a.id);
      const capped = await store.enqueue(t, 'b', { maxAttempts: LIMITS.mulliganCap });
      for (let i = 0; i < LIMITS.mulliganCap - 1; i++) {
        // Use attempts up without running code: claim and retry as a failing worker would.
        const [c] = await store.claim(req(1, null));
        await store.settle(c!.claim, { status: 'queued', error: 'x', delayMs: 0, maxAttempts: c!.job.maxAttempts });
      }
      const w2 = worker([t]);
      const done2 = w2.start();
      while (started.length < 2) await new Promise((r) => setTimeout(r, 5));
      await w2.shutdown(0);
      await done2;
      // Already at the cap: no extra attempt, and the last attempt is used up, so it fails.
      expect(await store.get(capped.id)).toMatchObject({ status: 'failed', maxAttempts: LIMITS.mulliganCap, attemptNumber: LIMITS.mulliganCap });
    });
  });
}
