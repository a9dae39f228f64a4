// The scripted scenario `pnpm demo` plays, and the tests replay on every store:
// real HTTP requests to the shop, then a check that every job ended as intended.
import type { Timeline } from './timeline.ts';

interface JobView {
  id: string;
  type: string;
  status: string;
  attempts: number;
  error: string | null;
}

export interface OrderView {
  id: string;
  customerId: string;
  total: number;
  status: 'awaiting_payment' | 'paid' | 'payment_failed';
  jobs: Record<'payment' | 'confirmation' | 'invoice' | 'reviewRequest' | 'paymentFailed', JobView | null>;
}

export interface ScenarioResult {
  paid: OrderView;
  declined: OrderView;
  /** Every re-index request in order: the job it got, and whether it joined a waiting one. */
  reindex: { customerId: string; id: string; coalesced: boolean }[];
  /** The deliberately bad request. */
  badRequest: { status: number; body: unknown };
  /** Every job the scenario made, as the store has it at the end (null: deleted when completed). */
  jobs: { id: string; type: string; status: string | null }[];
}

interface Reply {
  status: number;
  // The scenario reads what it asserts; a schema here would double the file.
  body: any;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

function expectStatus(r: Reply, status: number, what: string): void {
  if (r.status !== status) throw new Error(`${what}: expected HTTP ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
}

export async function runScenario(base: string, timeline: Timeline, options: { settleTimeoutMs?: number } = {}): Promise<ScenarioResult> {
  const step = (text: string) => timeline.note('note', `── ${text}`);
  const reindex: ScenarioResult['reindex'] = [];

  step('Ada orders two books and a pen; her card works');
  const a = await call(base, 'POST', '/orders', {
    customerId: 'ada',
    email: 'ada@example.com',
    items: [
      { sku: 'BOOK-1', quantity: 2, unitPrice: 1500 },
      { sku: 'PEN-7', quantity: 1, unitPrice: 1200 },
    ],
    card: 'tok_visa',
  });
  expectStatus(a, 201, 'POST /orders (Ada)');
  reindex.push({ customerId: 'ada', ...a.body.enqueued.reindex });

  step("Grace orders a lamp; the provider will decline her card");
  const g = await call(base, 'POST', '/orders', { customerId: 'grace', email: 'grace@example.com', items: [{ sku: 'LAMP-3', quantity: 1, unitPrice: 4900 }], card: 'tok_declined' });
  expectStatus(g, 201, 'POST /orders (Grace)');
  reindex.push({ customerId: 'grace', ...g.body.enqueued.reindex });

  step('Ada edits her address twice; both re-index requests join the waiting job');
  for (let i = 0; i < 2; i++) {
    const r = await call(base, 'POST', '/customers/ada/reindex');
    expectStatus(r, 202, 'POST /customers/ada/reindex');
    reindex.push({ customerId: 'ada', id: r.body.job.id, coalesced: r.body.coalesced });
  }

  step('A client sends an order without items');
  const bad = await call(base, 'POST', '/orders', { customerId: 'bob', email: 'bob@example.com', items: [] });
  timeline.note('note', `   → ${bad.status} ${JSON.stringify(bad.body)}`);

  step('Waiting for the workers, the payment provider and the delayed jobs');
  await waitUntilSettled(timeline, options.settleTimeoutMs ?? 60_000);

  // The end state as the store has it: the orders list most jobs; the rest by id.
  const paid = await call(base, 'GET', `/orders/${a.body.order.id}`);
  const declined = await call(base, 'GET', `/orders/${g.body.order.id}`);
  expectStatus(paid, 200, 'GET /orders (Ada)');
  expectStatus(declined, 200, 'GET /orders (Grace)');
  const listed = new Map<string, JobView>();
  for (const job of [...Object.values(paid.body.order.jobs), ...Object.values(declined.body.order.jobs)] as (JobView | null)[]) if (job) listed.set(job.id, job);
  const jobs: ScenarioResult['jobs'] = [];
  for (const [id, { jobType }] of timeline.lastStatus()) {
    let status: string | null | undefined = listed.get(id)?.status;
    if (status === undefined) {
      const r = await call(base, 'GET', `/jobs/${id}`);
      status = r.status === 404 ? null : (r.body.job.status as string);
    }
    jobs.push({ id, type: jobType, status });
  }
  return { paid: paid.body.order, declined: declined.body.order, reindex, badRequest: { status: bad.status, body: bad.body }, jobs };
}

/**
 * Waits until every job the timeline has seen is completed or failed. Follow-up
 * jobs are enqueued before the job that creates them completes, so nothing can
 * still be on its way then. The timeout is a hang guard that names what is
 * stuck, not a performance check.
 */
async function waitUntilSettled(timeline: Timeline, timeoutMs: number): Promise<void> {
  const open = () => [...timeline.lastStatus()].filter(([, j]) => j.status !== 'completed' && j.status !== 'failed');
  await timeline.waitFor(() => open().length === 0, 'every job to complete or fail', timeoutMs).catch(() => {
    throw new Error(`jobs still not finished after ${timeoutMs} ms: ${open().map(([id, j]) => `#${id} ${j.jobType} ${j.status}`).join(', ')}`);
  });
}

/** What should be true at the end; returns the differences (empty when all is as intended). */
export function checkScenario(r: ScenarioResult, timeline: Timeline): string[] {
  const problems: string[] = [];
  const expect = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  const j = r.paid.jobs;
  expect(r.paid.status === 'paid', `Ada's order is paid (is ${r.paid.status})`);
  expect(j.payment?.status === 'completed', "Ada's payment job completed");
  expect(j.confirmation?.status === 'completed', "Ada's confirmation e-mail completed");
  expect(j.invoice?.status === 'completed' && j.invoice.attempts === 2, `Ada's invoice completed on its second attempt (${JSON.stringify(j.invoice)})`);
  expect(j.reviewRequest?.status === 'completed', "Ada's delayed review request completed");
  expect(j.paymentFailed === null, "Ada got no payment-failed e-mail");

  const d = r.declined.jobs;
  expect(r.declined.status === 'payment_failed', `Grace's order is payment_failed (is ${r.declined.status})`);
  expect(d.payment?.status === 'failed', "Grace's payment job failed (declined)");
  expect(d.confirmation?.status === 'completed', "Grace's confirmation e-mail completed");
  expect(d.paymentFailed?.status === 'completed', "Grace's payment-failed e-mail completed");
  expect(d.invoice === null && d.reviewRequest === null, 'Grace got no invoice and no review request');

  const ada = r.reindex.filter((x) => x.customerId === 'ada');
  expect(ada.length === 3 && ada.every((x) => x.id === ada[0]!.id) && ada.filter((x) => x.coalesced).length === 2, `Ada's three re-index requests share one job (${JSON.stringify(ada)})`);
  const last = timeline.lastStatus();
  for (const id of new Set(r.reindex.map((x) => x.id))) expect(last.get(id)?.status === 'completed', `re-index job #${id} completed`);

  expect(r.badRequest.status === 400, `the order without items got 400 (got ${r.badRequest.status})`);
  for (const job of r.jobs) {
    const ended = job.status === 'completed' || job.status === 'failed' || (job.status === null && job.type === 'reindex-customer');
    expect(ended, `job #${job.id} (${job.type}) has ended in the store (is ${job.status ?? 'deleted'})`);
  }
  expect(r.jobs.filter((j) => j.status === 'failed').length === 1, 'exactly one job failed (Grace\'s payment)');
  for (const kind of ['enqueued', 'started', 'retried', 'coalesced', 'waiting', 'webhook', 'completed', 'failed', 'http'] as const) {
    expect(timeline.count(kind) > 0, `the timeline shows "${kind}"`);
  }
  return problems;
}

/** The lines printed after the timeline. */
export function summarize(r: ScenarioResult, timeline: Timeline): string[] {
  const last = [...timeline.lastStatus().values()];
  const by = (status: string) => last.filter((x) => x.status === status);
  const types = (list: { jobType: string }[]) => [...new Set(list.map((x) => x.jobType))].join(', ');
  const money = (cents: number) => `${(cents / 100).toFixed(2)} EUR`;
  return [
    `orders      Ada ${money(r.paid.total)}: ${r.paid.status}; Grace ${money(r.declined.total)}: ${r.declined.status}`,
    `jobs        ${last.length} created: ${by('completed').length} completed, ${by('failed').length} failed as intended (${types(by('failed'))}), ${last.length - by('completed').length - by('failed').length} stuck`,
    `retries     ${timeline.count('retried')} (the flaky invoice renderer, retried with backoff)`,
    `coalesced   ${r.reindex.filter((x) => x.coalesced).length} of ${r.reindex.length} re-index requests joined a waiting job`,
    `webhooks    ${timeline.events.filter((e) => e.kind === 'webhook' && e.text.startsWith('payment provider:')).length} payment results resolved parked jobs`,
    `requests    ${timeline.count('http')} logged after their responses (doLater)`,
    `autoscaler  ${timeline.count('autoscaler')} decisions to change a pool`,
  ];
}
