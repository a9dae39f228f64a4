import { LIMITS, type Store } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { req, type StoreConformanceOptions, useKit } from '../harness.ts';

/** Hung-job detection: maxRuntimeSeconds boundaries, leases, which statuses count, mulligan. */
export function hungJobTests<S extends Store>(options: StoreConformanceOptions<S>): void {
  describe(`${options.name}: hung jobs`, () => {
    const kit = useKit(options);

    async function startOne(maxRuntimeSeconds: number | null, park = false, maxAttempts = 1) {
      const { store, def } = kit();
      const t = def({ run: () => {}, options: { maxRuntimeSeconds, maxAttempts } });
      const job = await store.enqueue(t, {});
      const [c] = await store.claim(req(1, null, 3_600_000));
      if (park) await store.settle(c!.claim, { status: 'wait_async' });
      return { job, claim: c! };
    }

    for (const park of [false, true]) {
      const status = park ? 'wait_async' : 'running';
      it(`${status}: started 11 s ago with a 10 s limit is hung; 10 s and 9 s are not`, async () => {
        const { store, clock } = kit();
        clock.freeze();
        const { job } = await startOne(10, park);
        clock.advance(9_000);
        expect(await store.detectHungJobs()).toBe(0);
        clock.advance(1_000);
        expect(await store.detectHungJobs()).toBe(0);
        expect((await store.get(job.id)).status).toBe(status);
        clock.advance(1_000);
        expect(await store.detectHungJobs()).toBe(1);
        const after = await store.get(job.id);
        // Retried with mulligan: the infrastructure fault does not use up the job's own attempt.
        expect(after).toMatchObject({ status: 'queued', maxAttempts: 2, attemptNumber: 1 });
        expect(after.errorMessage).toMatch(/hung/i);
        expect(await store.detectHungJobs()).toBe(0);
      });

      it(`${status}: a job without maxRuntimeSeconds is never hung by run time`, async () => {
        const { store, clock } = kit();
        clock.freeze();
        const { job } = await startOne(null, park);
        clock.advance(30 * 60_000);
        expect(await store.detectHungJobs()).toBe(0);
        expect((await store.get(job.id)).status).toBe(status);
      });
    }

    it('queued, completed and failed jobs are never hung', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def({ run: () => {}, options: { maxRuntimeSeconds: 1, deleteOnComplete: false } });
      const done = await store.enqueue(t, {});
      const failed = await store.enqueue(t, {});
      await store.enqueue(t, {});
      const claims = await store.claim(req(2));
      const byId = new Map(claims.map((c) => [c.job.id, c]));
      await store.settle(byId.get(done.id)!.claim, { status: 'completed', delete: false });
      await store.settle(byId.get(failed.id)!.claim, { status: 'failed', error: 'no' });
      clock.advance(3_600_000);
      expect(await store.detectHungJobs()).toBe(0);
      expect((await store.jobs()).map((j) => j.status).sort()).toEqual(['completed', 'failed', 'queued']);
    });

    it('a running job whose lease expired is hung even without maxRuntimeSeconds; extending the lease prevents it', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def({ run: () => {} });
      const a = await store.enqueue(t, 'a');
      const b = await store.enqueue(t, 'b');
      const claims = await store.claim(req(2, null, 30_000));
      clock.advance(20_000);
      const held = claims.find((c) => c.job.id === b.id)!;
      expect(await store.extendLeases([held.claim], 30_000)).toEqual([]);
      clock.advance(10_000);
      expect(await store.detectHungJobs()).toBe(0);
      clock.advance(1);
      expect(await store.detectHungJobs()).toBe(1);
      expect(await store.get(a.id)).toMatchObject({ status: 'queued', maxAttempts: 2 });
      expect((await store.get(b.id)).status).toBe('running');
      // The lost claim is reported by extendLeases.
      const lost = claims.find((c) => c.job.id === a.id)!;
      expect(await store.extendLeases([lost.claim, held.claim], 30_000)).toEqual([a.id]);
    });

    it('a hung job out of attempts at the mulligan cap fails', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def({ run: () => {}, options: { maxAttempts: LIMITS.mulliganCap, maxRuntimeSeconds: 1 } });
      const job = await store.enqueue(t, {});
      for (let i = 1; i < LIMITS.mulliganCap; i++) {
        const [c] = await store.claim(req(1));
        await store.settle(c!.claim, { status: 'queued', error: 'x', delayMs: 0, maxAttempts: LIMITS.mulliganCap });
      }
      await store.claim(req(1));
      clock.advance(2_000);
      expect(await store.detectHungJobs()).toBe(1);
      const f = await store.get(job.id);
      expect(f).toMatchObject({ status: 'failed', maxAttempts: LIMITS.mulliganCap, attemptNumber: LIMITS.mulliganCap });
      expect(f.endedAt).toBeInstanceOf(Date);
    });

    it('retries every hung job in one sweep and returns how many', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def({ run: () => {}, options: { maxRuntimeSeconds: 5 } });
      for (let i = 0; i < 7; i++) await store.enqueue(t, i);
      await store.claim(req(5, null, 3_600_000));
      clock.advance(5_001);
      expect(await store.detectHungJobs()).toBe(5);
      expect(await store.count({ status: 'queued' })).toBe(7);
    });

    it('a Worker sweeps for hung jobs itself when detectHungJobsEvery is set', async () => {
      const { store, clock, def, worker } = kit();
      const t = def({ run: () => {}, options: { maxRuntimeSeconds: 1 } });
      const job = await store.enqueue(t, {}, { queueName: 'elsewhere' });
      await store.claim(req(1, null, 3_600_000));
      clock.advance(5_000);
      const w = worker([t], { queueName: 'unused', detectHungJobsEvery: 0.02 });
      const done = w.start();
      const deadline = Date.now() + 10_000;
      while ((await store.get(job.id)).status !== 'queued' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      w.stop();
      await done;
      expect((await store.get(job.id)).status).toBe('queued');
    });
  });
}
