import { type JobRecord, JobStatus, type Store } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { gate, req, type StoreConformanceOptions, useKit } from '../harness.ts';

/** Restart, status-change hooks and listeners, and ownership of claims. */
export function restartAndHookTests<S extends Store>(options: StoreConformanceOptions<S>): void {
  describe(`${options.name}: restart`, () => {
    const kit = useKit(options);

    it('restarts a failed job: attempt 0, times null, queued, and it runs again', async () => {
      const { store, def, worker } = kit();
      let fail = true;
      const t = def({
        run: () => {
          if (fail) throw new Error('first time');
        },
        options: { maxAttempts: 1, deleteOnComplete: false },
      });
      const job = await store.enqueue(t, {}, { startAt: Date.now() - 1000 });
      await worker([t], { exitIfNoJobs: true }).start();
      expect((await store.get(job.id)).status).toBe('failed');
      const r = await store.restart(job.id);
      expect(r).toMatchObject({ status: 'queued', attemptNumber: 0, startAt: null, startedAt: null, endedAt: null, errorMessage: null });
      fail = false;
      await worker([t], { exitIfNoJobs: true }).start();
      expect(await store.get(job.id)).toMatchObject({ status: 'completed', attemptNumber: 1 });
    });

    it('restart works from every status, and ends any claim', async () => {
      const { store, def } = kit();
      const t = def({ run: () => {}, options: { deleteOnComplete: false } });
      const jobs = await store.enqueueMany([0, 1, 2, 3].map((i) => ({ type: t, payload: i })));
      const claims = await store.claim(req(3));
      await store.settle(claims[1]!.claim, { status: 'wait_async' });
      await store.settle(claims[2]!.claim, { status: 'completed', delete: false });
      for (const j of jobs) expect(await store.restart(j.id)).toMatchObject({ status: 'queued', attemptNumber: 0 });
      // The old claim no longer owns its job.
      expect((await store.settle(claims[0]!.claim, { status: 'completed', delete: false })).applied).toBe(false);
      expect(await store.count({ status: 'queued' })).toBe(4);
    });
  });

  describe(`${options.name}: status-change hooks`, () => {
    const kit = useKit(options);

    it('reports every change to the type hook and to store listeners, with old status and message', async () => {
      const { store, def, worker } = kit();
      const fromType: string[] = [];
      const fromStore: string[] = [];
      let runs = 0;
      const t = def<{ n: number }>({
        run: () => {
          if (++runs === 1) throw new Error('first failure');
        },
        options: { maxAttempts: 2 },
        statusDidChange: (job, old, msg) => void fromType.push(`${old}->${job.status}${msg ? `:${msg}` : ''}`),
      });
      const off = store.onStatusChange((job: JobRecord, old, msg) => {
        if (job.type === t.name) fromStore.push(`${old}->${job.status}${msg ? `:${msg}` : ''}`);
      });
      await store.enqueue(t, { n: 1 });
      await worker([t], { exitIfNoJobs: true }).start();
      const expected = ['unqueued->queued', 'queued->running', 'running->queued:first failure', 'queued->running', 'running->completed'];
      expect(fromType).toEqual(expected);
      expect(fromStore).toEqual(expected);
      off();
      await store.enqueue(t, { n: 2 });
      expect(fromStore).toHaveLength(expected.length);
      expect(fromType).toHaveLength(expected.length + 1);
    });

    it('a failure message holds the error text', async () => {
      const { store, def, worker } = kit();
      const msgs: (string | null)[] = [];
      const t = def({
        run: () => {
          throw new Error('disk full');
        },
        statusDidChange: (job, _old, msg) => void (job.status === 'failed' && msgs.push(msg)),
      });
      await store.enqueue(t, {});
      await worker([t], { exitIfNoJobs: true }).start();
      expect(msgs).toEqual(['disk full']);
    });

    it('a throwing or rejecting hook never breaks the job', async () => {
      const { store, def, worker } = kit();
      const t = def({
        run: () => {},
        options: { deleteOnComplete: false },
        statusDidChange: () => {
          throw new Error('hook exploded');
        },
      });
      store.onStatusChange(() => {
        throw new Error('listener exploded');
      });
      store.onStatusChange(async () => {
        throw new Error('async listener exploded');
      });
      const job = await store.enqueue(t, {});
      await worker([t], { exitIfNoJobs: true }).start();
      expect((await store.get(job.id)).status).toBe('completed');
    });
  });

  describe(`${options.name}: ownership`, () => {
    const kit = useKit(options);

    it('a late settle from a claim that was retried meanwhile is refused and changes nothing', async () => {
      const { store, clock, def } = kit();
      clock.freeze();
      const t = def({ run: () => {}, options: { maxAttempts: 3, deleteOnComplete: false } });
      const job = await store.enqueue(t, {});
      const [first] = await store.claim(req(1, null, 30_000));
      clock.advance(30_001);
      expect(await store.detectHungJobs()).toBe(1);
      const [second] = await store.claim(req(1));
      expect(second?.job).toMatchObject({ id: job.id, attemptNumber: 2 });
      for (const outcome of [
        { status: 'completed', delete: true },
        { status: 'failed', error: 'late' },
        { status: 'queued', error: 'late', delayMs: 0, maxAttempts: 3 },
        { status: 'wait_async' },
      ] as const) {
        const r = await store.settle(first!.claim, outcome);
        expect(r.applied).toBe(false);
      }
      expect(await store.get(job.id)).toMatchObject({ status: 'running', attemptNumber: 2 });
      expect((await store.settle(second!.claim, { status: 'completed', delete: false })).applied).toBe(true);
      expect(await store.get(job.id)).toMatchObject({ status: 'completed', attemptNumber: 2 });
    });

    it('with real workers: the late result of a run whose job was retried is discarded and the job runs again', async () => {
      const { store, clock, def, worker } = kit();
      const g = gate();
      const runs: number[] = [];
      const t = def({
        run: async (_p, ctx) => {
          runs.push(ctx.job.attemptNumber);
          if (ctx.job.attemptNumber === 1) {
            await g.promise;
            return JobStatus.Completed;
          }
          throw new Error('second run fails');
        },
        options: { maxAttempts: 1, maxRuntimeSeconds: 5, deleteOnComplete: false },
      });
      const job = await store.enqueue(t, {});
      const slow = worker([t], { heartbeatSeconds: 3600 });
      const discarded: string[] = [];
      slow.on('job:discarded', (j) => discarded.push(j.id));
      const slowDone = slow.start();
      while (runs.length < 1) await new Promise((r) => setTimeout(r, 5));
      slow.stop();
      clock.advance(6_000);
      expect(await store.detectHungJobs()).toBe(1);
      await worker([t], { exitIfNoJobs: true }).start();
      expect(runs).toEqual([1, 2]);
      const afterSecond = await store.get(job.id);
      expect(afterSecond).toMatchObject({ status: 'failed', attemptNumber: 2, errorMessage: 'second run fails' });
      g.open();
      await slowDone;
      expect(discarded).toEqual([job.id]);
      // The first run's "completed" did not overwrite the second run's result.
      expect(await store.get(job.id)).toEqual(afterSecond);
    });
  });
}
