import { defineJob, Worker } from '@jqjobs/core';
import { expect, it } from 'vitest';
import { MemoryStore } from '../src/index.ts';

it('runs jobs end to end', async () => {
  const store = new MemoryStore();
  const seen: number[] = [];
  const job = defineJob<{ n: number }>({ name: 'smoke', run: (p) => void seen.push(p.n) });
  for (let i = 0; i < 10; i++) await store.enqueue(job, { n: i }, { priority: i % 2 });
  const w = new Worker(store, { jobs: [job], exitIfNoJobs: true, enableJitter: false, logger: 'silent' });
  await w.start();
  expect(seen).toEqual([1, 3, 5, 7, 9, 0, 2, 4, 6, 8]);
  expect(await store.count()).toBe(0);
  expect(w.jobsProcessed).toBe(10);
});
