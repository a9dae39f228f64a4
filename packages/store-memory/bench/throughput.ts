// Enqueues and processes N no-op jobs on a MemoryStore in this process; prints jobs/s.
// Usage: pnpm bench [-- --jobs 100000 --concurrency 10 --rounds 5]
import { defineJob, Worker } from '@jqjobs/core';
import { MemoryStore } from '../src/index.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('jobs', 100_000);
const concurrency = arg('concurrency', 10);
const rounds = arg('rounds', 5);

const noop = defineJob<{ i: number }>({ name: 'bench-noop', run: () => {} });

async function round() {
  const store = new MemoryStore({ logger: 'silent' });
  const t0 = performance.now();
  // One call per job: the path an application takes.
  for (let i = 0; i < N; i++) await store.enqueue(noop, { i });
  const t1 = performance.now();
  const batch = new MemoryStore({ logger: 'silent' });
  const items = Array.from({ length: N }, (_, i) => ({ type: noop, payload: { i } }));
  const t2 = performance.now();
  await batch.enqueueMany(items);
  const t3 = performance.now();
  const worker = new Worker(store, { jobs: [noop], concurrency, exitIfNoJobs: true, enableJitter: false, logger: 'silent', detectHungJobsEvery: 0 });
  const t4 = performance.now();
  await worker.start();
  const t5 = performance.now();
  if (worker.jobsProcessed !== N || (await store.count()) !== 0) throw new Error(`processed ${worker.jobsProcessed} of ${N}`);
  await store.close();
  await batch.close();
  return { enqueue: N / ((t1 - t0) / 1000), enqueueMany: N / ((t3 - t2) / 1000), process: N / ((t5 - t4) / 1000) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results = [];
for (let r = 0; r < rounds; r++) results.push(await round());
const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);
console.log(`MemoryStore, ${N.toLocaleString('en-US')} no-op jobs, concurrency ${concurrency}, ${rounds} rounds (median), Node ${process.version}`);
console.log(`  enqueue (one per call) ${fmt(median(results.map((r) => r.enqueue)))} jobs/s`);
console.log(`  enqueueMany            ${fmt(median(results.map((r) => r.enqueueMany)))} jobs/s`);
console.log(`  processed by a Worker  ${fmt(median(results.map((r) => r.process)))} jobs/s`);
