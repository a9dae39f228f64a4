// The shop's job types. Both the web process (which enqueues jobs and resolves
// payments from the webhook) and the worker process (which runs them) build them
// from here, so both sides agree on names, queues and options.
import { abortableSleep, defineJob, type EnqueueItem, JobStatus } from '@jqjobs/core';

/** Every queue the shop uses; workers and the autoscaler are configured from this list. */
export const QUEUES = ['payments', 'email', 'documents', 'search'] as const;
export type QueueName = (typeof QUEUES)[number];

export type EmailTemplate = 'order-confirmation' | 'payment-failed' | 'review-request';

export interface ShopJobsOptions {
  /** Base URL of the payment provider's API (the simulated one in payment-provider.ts). */
  paymentProviderUrl: string;
  /** How long after a successful payment the "how was it?" e-mail goes out. @default 3 days */
  reviewRequestDelayMs?: number;
  /** Re-indexing waits this long so that a burst of changes to one customer costs one run. @default 5 s */
  reindexDebounceMs?: number;
}

/** Coalesce ids: one job per order and purpose, and how the API finds an order's jobs. */
export const coalesceIds = {
  payment: (orderId: string) => `payment:${orderId}`,
  email: (template: EmailTemplate, orderId: string) => `email:${template}:${orderId}`,
  invoice: (orderId: string) => `invoice:${orderId}`,
  reindex: (customerId: string) => `reindex:${customerId}`,
};

/** What the provider posts to the webhook, and what `sync-payment` resolves with. */
export interface PaymentResult {
  chargeId: string;
  jobId: string;
  status: 'succeeded' | 'declined';
}

export function createShopJobs(options: ShopJobsOptions) {
  const reviewRequestDelayMs = options.reviewRequestDelayMs ?? 3 * 24 * 3600_000;
  const reindexDebounceMs = options.reindexDebounceMs ?? 5_000;

  const sendEmail = defineJob<{ to: string; template: EmailTemplate; orderId: string }>({
    name: 'send-email',
    // Kept when completed so GET /orders/:id can show it; the coalesce id then also
    // guarantees one e-mail per order and template, however often it is enqueued.
    options: { queueName: 'email', priority: 5, maxAttempts: 5, backoff: { type: 'exponential', delayMs: 1_000, maxDelayMs: 60_000 }, deleteOnComplete: false },
    coalesceId: (p) => coalesceIds.email(p.template, p.orderId),
    description: (p) => `${p.template} e-mail for order ${p.orderId} to ${p.to}`,
    async run(_p, ctx) {
      await abortableSleep(20, ctx.signal); // stands in for the SMTP call
    },
  });

  const renderInvoice = defineJob<{ orderId: string; total: number }>({
    name: 'render-invoice',
    options: { queueName: 'documents', maxAttempts: 3, backoff: { type: 'exponential', delayMs: 200 }, deleteOnComplete: false },
    coalesceId: (p) => coalesceIds.invoice(p.orderId),
    description: (p) => `invoice PDF for order ${p.orderId}`,
    async run(_p, ctx) {
      // Simulated flaky dependency: the PDF renderer times out on each invoice's
      // first attempt, so every run shows a retry with backoff.
      if (ctx.job.attemptNumber === 1) throw new Error('PDF renderer timed out');
      // Rendering is slow (0.7 s): long enough that the autoscaler, which counts due and
      // running jobs, sees it at work and sizes the documents pool.
      await abortableSleep(700, ctx.signal);
    },
  });

  const syncPayment = defineJob<{ orderId: string; customerEmail: string; amount: number; card: string }>({
    name: 'sync-payment',
    // maxRuntimeSeconds: a webhook that never comes makes the job hung after an
    // hour; it is then retried (with mulligan), which asks the provider again.
    options: { queueName: 'payments', priority: 10, maxAttempts: 5, backoff: { type: 'exponential', delayMs: 500 }, maxRuntimeSeconds: 3600, deleteOnComplete: false },
    coalesceId: (p) => coalesceIds.payment(p.orderId),
    description: (p) => `charge ${(p.amount / 100).toFixed(2)} EUR for order ${p.orderId}`,
    async run(p, ctx) {
      const res = await fetch(new URL('/charges', options.paymentProviderUrl), {
        method: 'POST',
        // The job id is stable across attempts: a retried job cannot charge twice.
        headers: { 'content-type': 'application/json', 'idempotency-key': `job-${ctx.job.id}` },
        body: JSON.stringify({ amount: p.amount, currency: 'EUR', card: p.card, metadata: { jobId: ctx.job.id, orderId: p.orderId } }),
        signal: ctx.signal,
      });
      if (!res.ok) throw new Error(`payment provider answered ${res.status}`);
      await res.body?.cancel();
      // The provider finishes the charge later and tells the webhook (api.ts).
      return JobStatus.WaitAsync;
    },
    // Runs in the web process, under the job's lock, when the webhook arrives. The
    // follow-ups are enqueued before the job completes: if enqueueing fails the job
    // stays parked and the provider's retry of the webhook tries again, and their
    // coalesce ids make that retry harmless.
    async resolveWaitAsync(p, data, ctx) {
      const result = data as PaymentResult;
      if (result.status === 'succeeded') {
        await ctx.store.enqueueMany([
          { type: renderInvoice, payload: { orderId: p.orderId, total: p.amount } },
          { type: sendEmail, payload: { to: p.customerEmail, template: 'review-request', orderId: p.orderId }, options: { startAt: Date.now() + reviewRequestDelayMs, priority: 0 } },
        ] satisfies EnqueueItem[]);
        return 'completed';
      }
      await ctx.store.enqueue(sendEmail, { to: p.customerEmail, template: 'payment-failed', orderId: p.orderId });
      return 'failed';
    },
  });

  const reindexCustomer = defineJob<{ customerId: string }>({
    name: 'reindex-customer',
    // Deleted when done (the default), which frees the coalesce id: while one
    // re-index is waiting, asking again joins it; after it ran, asking again
    // schedules a new one. A request made while it runs joins that run too: fine
    // for a search index that the next change refreshes, not for a ledger.
    options: { queueName: 'search', priority: -5 },
    coalesceId: (p) => coalesceIds.reindex(p.customerId),
    description: (p) => `re-index customer ${p.customerId}`,
    async run(_p, ctx) {
      await abortableSleep(10, ctx.signal); // stands in for the search-engine update
    },
  });

  return {
    sendEmail,
    renderInvoice,
    syncPayment,
    reindexCustomer,
    /** Every type, for `Worker({ jobs })` and `resolveWaitAsyncJob({ jobs })`. */
    all: [sendEmail, renderInvoice, syncPayment, reindexCustomer],
    /** The enqueue of a debounced re-index: the delayed start is the window in which later requests coalesce. */
    reindex: (customerId: string): EnqueueItem => ({ type: reindexCustomer, payload: { customerId }, options: { startAt: Date.now() + reindexDebounceMs } }),
  };
}

export type ShopJobs = ReturnType<typeof createShopJobs>;

