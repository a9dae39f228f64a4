// The demo's scenario, replayed on one store per test file, with the end state
// checked both through the API (checkScenario) and in the store itself.
import { afterAll, expect, it } from 'vitest';
import { QUEUES } from '../src/jobs.ts';
import { checkScenario, runScenario } from '../src/scenario.ts';
import type { StoreKind } from '../src/store.ts';
import { type Resource, type Running, startDemoShop } from './helpers.ts';

export function scenarioTests(kind: StoreKind, provision: () => Promise<Resource | null>): void {
  let resource: Resource | null = null;
  let running: Running | null = null;

  afterAll(async () => {
    await running?.close();
    await resource?.drop();
  });

  it(`plays the demo scenario on the ${kind} store: every job completes or fails as intended, none is stuck`, async () => {
    resource = await provision();
    running = await startDemoShop(resource?.url ?? 'memory');
    const { shop, timeline } = running;
    expect(shop.storeKind).toBe(kind);

    const result = await runScenario(shop.url, timeline);
    expect(checkScenario(result, timeline)).toEqual([]);

    // The same, spelled out.
    expect(result.paid.status).toBe('paid');
    expect(result.paid.jobs.payment).toMatchObject({ status: 'completed', attempts: 1 });
    expect(result.paid.jobs.confirmation).toMatchObject({ status: 'completed' });
    expect(result.paid.jobs.invoice).toMatchObject({ status: 'completed', attempts: 2 });
    expect(result.paid.jobs.reviewRequest).toMatchObject({ status: 'completed' });
    expect(result.paid.jobs.paymentFailed).toBeNull();
    expect(result.declined.status).toBe('payment_failed');
    expect(result.declined.jobs.payment).toMatchObject({ status: 'failed' });
    expect(result.declined.jobs.paymentFailed).toMatchObject({ status: 'completed' });
    expect(result.declined.jobs.invoice).toBeNull();
    expect(result.reindex.map((r) => r.coalesced)).toEqual([false, false, true, true]);
    expect(new Set(result.reindex.filter((r) => r.customerId === 'ada').map((r) => r.id)).size).toBe(1);
    expect(result.badRequest).toEqual({ status: 400, body: { error: { code: 'invalid_request', message: expect.stringContaining('items') } } });

    // And in the store: nothing waiting, the one failure is Grace's payment, and
    // the re-index jobs are gone (deleted on completion, freeing their coalesce ids).
    const shopJobs = (await shop.store.jobs({ limit: 1000 })).filter((j) => (QUEUES as readonly string[]).includes(j.queueName));
    expect(shopJobs.filter((j) => !['completed', 'failed'].includes(j.status))).toEqual([]);
    expect(shopJobs.filter((j) => j.status === 'failed').map((j) => j.id)).toEqual([result.declined.jobs.payment!.id]);
    expect(shopJobs.filter((j) => j.type === 'reindex-customer')).toEqual([]);
    expect(shopJobs.map((j) => j.type).sort()).toEqual(['render-invoice', 'send-email', 'send-email', 'send-email', 'send-email', 'sync-payment', 'sync-payment']);

    for (const kind of ['enqueued', 'started', 'retried', 'coalesced', 'waiting', 'webhook', 'completed', 'failed'] as const) {
      expect(timeline.count(kind), kind).toBeGreaterThan(0);
    }
  }, 90_000);
}
