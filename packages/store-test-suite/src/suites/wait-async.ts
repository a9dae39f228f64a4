import { InvalidStateError, JobLockedError, JobNotFoundError, JobStatus, resolveWaitAsyncJob, type Store, type WaitAsyncResolution } from '@jqjobs/core';
import { describe, expect, it } from 'vitest';
import { gate, req, type StoreConformanceOptions, useKit } from '../harness.ts';

/** Wait-async jobs and their resolution; `withLock`. */
export function waitAsyncTests<S extends Store>(options: StoreConformanceOptions<S>): void {
  describe(`${options.name}: wait-async`, () => {
    const kit = useKit(options);

    async function parked(resolve: (data: unknown) => WaitAsyncResolution | Promise<WaitAsyncResolution>, deleteOnComplete = false) {
      const { store, def, worker } = kit();
      const t = def<{ ref: string }>({ run: () => JobStatus.WaitAsync, resolveWaitAsync: (_p, data) => resolve(data), options: { deleteOnComplete } });
      const job = await store.enqueue(t, { ref: 'ext-1' });
      const w = worker([t], { exitIfNoJobs: true });
      await w.start();
      expect(w.jobsProcessed).toBe(1);
      expect((await store.get(job.id)).status).toBe('wait_async');
      return job;
    }

    it('parks the job and the worker moves on to other work', async () => {
      const { store, def, worker } = kit();
      const order: string[] = [];
      const t = def<string>({ run: (p) => (order.push(p), p === 'park' ? JobStatus.WaitAsync : undefined), options: { deleteOnComplete: false } });
      const p = await store.enqueue(t, 'park', { priority: 1 });
      await store.enqueue(t, 'next');
      await worker([t], { exitIfNoJobs: true }).start();
      expect(order).toEqual(['park', 'next']);
      expect(await store.get(p.id)).toMatchObject({ status: 'wait_async', attemptNumber: 1, endedAt: null });
    });

    it('resolves to completed (deleted, or kept with deleteOnComplete: false)', async () => {
      const { store } = kit();
      const kept = await parked((d) => (d === 'ok' ? 'completed' : 'failed'));
      expect(await resolveWaitAsyncJob(store, kept.id, 'ok')).toBe('completed');
      const done = await store.get(kept.id);
      expect(done.status).toBe('completed');
      expect(done.endedAt).toBeInstanceOf(Date);
      const gone = await parked(() => 'completed', true);
      expect(await resolveWaitAsyncJob(store, gone.id, null)).toBe('completed');
      await expect(store.get(gone.id)).rejects.toBeInstanceOf(JobNotFoundError);
    });

    it('resolves to wait_async (still parked) and to failed', async () => {
      const { store } = kit();
      const calls: unknown[] = [];
      const job = await parked((d) => (calls.push(d), d === 'not yet' ? 'wait_async' : 'failed'));
      expect(await resolveWaitAsyncJob(store, job.id, 'not yet')).toBe('wait_async');
      expect((await store.get(job.id)).status).toBe('wait_async');
      expect(await resolveWaitAsyncJob(store, job.id, { error: 'declined' })).toBe('failed');
      const f = await store.get(job.id);
      expect(f.status).toBe('failed');
      expect(f.endedAt).toBeInstanceOf(Date);
      expect(calls).toEqual(['not yet', { error: 'declined' }]);
    });

    it('a resolver can fail the job with its own reason; an invalid resolution is an error', async () => {
      const { store } = kit();
      const job = await parked((d) => (d === 'bad' ? ('maybe' as never) : { status: 'failed', error: 'card declined' }));
      await expect(resolveWaitAsyncJob(store, job.id, 'bad')).rejects.toThrow(/Invalid return value/);
      expect((await store.get(job.id)).status).toBe('wait_async');
      expect(await resolveWaitAsyncJob(store, job.id, 'declined')).toBe('failed');
      expect(await store.get(job.id)).toMatchObject({ status: 'failed', errorMessage: 'card declined' });
    });

    it('requires wait_async: InvalidStateError carries the status, and the job is unchanged', async () => {
      const { store, def } = kit();
      const t = def({ run: () => {}, resolveWaitAsync: () => 'completed', options: { deleteOnComplete: false } });
      const q = await store.enqueue(t, {});
      const before = await store.get(q.id);
      const err = await resolveWaitAsyncJob(store, q.id, {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidStateError);
      expect((err as InvalidStateError).status).toBe('queued');
      expect(await store.get(q.id)).toEqual(before);
      const [c] = await store.claim(req(1));
      await expect(resolveWaitAsyncJob(store, q.id, {})).rejects.toMatchObject({ status: 'running' });
      await store.settle(c!.claim, { status: 'failed', error: 'x' });
      const failed = await store.get(q.id);
      await expect(resolveWaitAsyncJob(store, q.id, {})).rejects.toMatchObject({ status: 'failed' });
      expect(await store.get(q.id)).toEqual(failed);
      expect((await store.settleWaitAsync(q.id, { status: 'completed', delete: false })).applied).toBe(false);
      expect(await store.get(q.id)).toEqual(failed);
      await expect(resolveWaitAsyncJob(store, '987654', {})).rejects.toBeInstanceOf(JobNotFoundError);
    });

    it('a throwing resolver: rethrown and still parked, or failed with convertExceptionToFailure', async () => {
      const { store } = kit();
      const job = await parked(() => {
        throw new Error('provider said 500');
      });
      await expect(resolveWaitAsyncJob(store, job.id, {})).rejects.toThrow('provider said 500');
      expect((await store.get(job.id)).status).toBe('wait_async');
      expect(await resolveWaitAsyncJob(store, job.id, {}, { convertExceptionToFailure: true })).toBe('failed');
      expect(await store.get(job.id)).toMatchObject({ status: 'failed', errorMessage: 'provider said 500' });
    });

    it('holds the lock while resolving and releases it on every path', async () => {
      const { store } = kit();
      const g = gate();
      let mode: 'block' | 'throw' | 'ok' = 'block';
      const job = await parked(async () => {
        if (mode === 'block') await g.promise;
        if (mode === 'throw') throw new Error('nope');
        return mode === 'ok' ? 'completed' : 'wait_async';
      });
      const first = resolveWaitAsyncJob(store, job.id, {});
      await new Promise((r) => setTimeout(r, 20));
      await expect(resolveWaitAsyncJob(store, job.id, {})).rejects.toBeInstanceOf(JobLockedError);
      await expect(store.withLock(job.id, () => 1)).rejects.toBeInstanceOf(JobLockedError);
      g.open();
      expect(await first).toBe('wait_async');
      expect(await store.withLock(job.id, () => 'free')).toBe('free');
      mode = 'throw';
      await expect(resolveWaitAsyncJob(store, job.id, {})).rejects.toThrow('nope');
      expect(await store.withLock(job.id, () => 'free again')).toBe('free again');
      mode = 'ok';
      expect(await resolveWaitAsyncJob(store, job.id, {})).toBe('completed');
      expect(await store.withLock(job.id, (j) => j.status)).toBe('completed');
    });
  });

  describe(`${options.name}: withLock`, () => {
    const kit = useKit(options);

    it('runs fn with the job under the lock and returns its result', async () => {
      const { store, def } = kit();
      const job = await store.enqueue(def({ run: () => {} }), { a: 1 });
      expect(await store.withLock(job.id, (j) => ({ id: j.id, payload: j.payload }))).toEqual({ id: job.id, payload: { a: 1 } });
      expect(await store.withLock(job.id, async () => 'async')).toBe('async');
    });

    it('a missing job gives JobNotFoundError and leaves no lock behind', async () => {
      const { store } = kit();
      await expect(store.withLock('31337', () => 1)).rejects.toBeInstanceOf(JobNotFoundError);
      await expect(store.withLock('not-an-id', () => 1)).rejects.toBeInstanceOf(JobNotFoundError);
    });

    it('a second holder gets JobLockedError at once, even from the same store instance', async () => {
      const { store, def } = kit();
      const job = await store.enqueue(def({ run: () => {} }), {});
      const inner = await store.withLock(job.id, async () => store.withLock(job.id, () => 'never').catch((e: unknown) => e));
      expect(inner).toBeInstanceOf(JobLockedError);
      expect((inner as JobLockedError).code).toBe('JQ_JOB_LOCKED');
      expect(await store.withLock(job.id, () => 'released')).toBe('released');
    });

    it('rethrows the error from fn as it is, and releases the lock', async () => {
      const { store, def } = kit();
      const job = await store.enqueue(def({ run: () => {} }), {});
      class Custom extends Error {}
      const boom = new Custom('mine');
      await expect(
        store.withLock(job.id, () => {
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await store.withLock(job.id, () => 'ok')).toBe('ok');
    });
  });
}
