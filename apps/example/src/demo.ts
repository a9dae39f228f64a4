// A scripted tour on the embedded memory store: jobs are enqueued, run, retried,
// coalesced, parked for a third party and completed. Run with `pnpm demo`.
import { defineJob, JobStatus, resolveWaitAsyncJob, Worker, type JobRecord } from '@jqjobs/core';
import { MemoryStore } from '@jqjobs/store-memory';

const store = new MemoryStore();
const t0 = Date.now();
const log = (line: string) => console.log(`${String(Date.now() - t0).padStart(5)} ms  ${line}`);

const sendEmail = defineJob<{ to: string; subject: string }>({
  name: 'send-email',
  options: { queueName: 'email', maxAttempts: 3 },
  description: (p) => `email "${p.subject}" to ${p.to}`,
  run: async () => {},
});

let invoiceAttempts = 0;
const renderInvoice = defineJob<{ order: number }>({
  name: 'render-invoice',
  options: { maxAttempts: 3, backoff: { type: 'exponential', delayMs: 100 } },
  description: (p) => `invoice for order ${p.order}`,
  run: async () => {
    if (++invoiceAttempts === 1) throw new Error('PDF renderer timed out');
  },
});

const reindexCustomer = defineJob<{ customer: string }>({
  name: 'reindex-customer',
  coalesceId: (p) => `reindex:${p.customer}`,
  description: (p) => `re-index customer ${p.customer}`,
  run: async () => {},
});

const pendingCharges: string[] = [];
const chargeCard = defineJob<{ order: number; amount: number }>({
  name: 'charge-card',
  options: { queueName: 'payments', priority: 10 },
  description: (p) => `charge ${p.amount} for order ${p.order}`,
  run: async (_p, ctx) => {
    pendingCharges.push(ctx.job.id); // the payment provider will call back later
    return JobStatus.WaitAsync;
  },
  resolveWaitAsync: (_p, data) => ((data as { ok: boolean }).ok ? 'completed' : 'failed'),
});

const jobs = [sendEmail, renderInvoice, reindexCustomer, chargeCard];
const describe = (job: JobRecord) => jobs.find((j) => j.name === job.type)?.description?.(job.payload as never) ?? job.type;

store.onStatusChange((job, old, message) => {
  const what = `#${job.id} ${describe(job)}`;
  if (old === 'unqueued') log(`enqueued   ${what} (queue ${job.queueName}, priority ${job.priority})`);
  else if (job.status === 'running') log(`started    ${what} (attempt ${job.attemptNumber}/${job.maxAttempts})`);
  else if (job.status === 'queued') log(`retrying   ${what}: ${message}`);
  else if (job.status === 'wait_async') log(`waiting    ${what} for the payment provider's webhook`);
  else if (job.status === 'completed') log(`completed  ${what}`);
  else if (job.status === 'failed') log(`failed     ${what}: ${message}`);
});

await store.enqueue(sendEmail, { to: 'ada@example.com', subject: 'Your order #1001' });
await store.enqueue(renderInvoice, { order: 1001 });
await store.enqueue(chargeCard, { order: 1001, amount: 4200 });
for (let i = 0; i < 3; i++) {
  const r = await store.enqueue(reindexCustomer, { customer: 'ada' });
  if (r.coalesced) log(`coalesced  re-index customer ada into job #${r.id}`);
}

const worker = new Worker(store, { jobs, concurrency: 2, enableJitter: false, wakeupEvery: 1 });
const running = worker.start();

// The "payment provider" calls the webhook a little later.
while (pendingCharges.length === 0) await new Promise((r) => setTimeout(r, 10));
await new Promise((r) => setTimeout(r, 300));
log(`webhook    payment provider confirms the charge`);
await resolveWaitAsyncJob(store, pendingCharges[0]!, { ok: true });

while ((await store.count()) > 0) await new Promise((r) => setTimeout(r, 20));
worker.stop();
await running;
log(`done: ${worker.jobsProcessed} jobs processed, ${await store.count()} left in the store`);
await store.close();
