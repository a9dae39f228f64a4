// The worker process: runs the shop's jobs from a shared store (PostgreSQL or
// Redis). Start it under a supervisor (systemd, runit, a Procfile line) — or let
// the web process fork it (workers.ts). `runWorkerProcess` owns the process: it
// handles signals, and exits with a code that tells the supervisor what happened
// (1 low memory, 2 source changed: both mean "start me again").
//
//   JQ_STORE_URL=postgres://… PAYMENT_PROVIDER_URL=http://… tsx src/worker.ts [--queue email …]
import { parseArgs } from 'node:util';
import { type LogLevel, runWorkerProcess } from '@jqjobs/core';
import { createShopJobs, QUEUES } from './jobs.ts';
import { openStore } from './store.ts';
import { jobEvent } from './timeline.ts';

const { values } = parseArgs({ options: { queue: { type: 'string', multiple: true }, store: { type: 'string' } } });
const queues = values.queue ?? [...QUEUES];
for (const q of queues) {
  if (!(QUEUES as readonly string[]).includes(q)) throw new Error(`unknown queue ${q}; the shop's queues are ${QUEUES.join(', ')}`);
}

const storeUrl = values.store ?? process.env.JQ_STORE_URL;
const paymentProviderUrl = process.env.PAYMENT_PROVIDER_URL;
if (!paymentProviderUrl) throw new Error('PAYMENT_PROVIDER_URL is not set');

const { store, kind } = await openStore(storeUrl);
if (kind === 'memory') {
  // Jobs in a MemoryStore exist only in the process that enqueued them.
  console.error('a separate worker process needs a shared store: set JQ_STORE_URL to postgres://… or redis://…');
  await store.close();
  process.exit(64);
}

const jobs = createShopJobs({ paymentProviderUrl });

// Forked by the web process: report job events over IPC for its timeline (stores
// report status changes only in the process that made them), and stop when the
// parent goes away instead of lingering as an orphan.
if (process.send) {
  store.onStatusChange((job, oldStatus, message) => {
    const event = (QUEUES as readonly string[]).includes(job.queueName) ? jobEvent(job, oldStatus, message, jobs.all) : null;
    if (event && process.connected) process.send!(event);
  });
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

await runWorkerProcess(store, {
  jobs: jobs.all,
  queueName: queues,
  concurrency: Number(process.env.JQ_WORKER_CONCURRENCY ?? 2),
  logger: (process.env.JQ_WORKER_LOG_LEVEL as LogLevel | undefined) ?? 'info',
});
