/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core)
 * against a real PostgreSQL store. Screenshots of the main pages go to
 * apps/admin/test-artifacts/.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { defineJob, type JobRecord, type Store, Worker } from '@jqjobs/core';
import { PostgresStore } from '@jqjobs/store-postgres';
import { startAdminServer, type AdminServer } from '@jqjobs/cli';
import { artifactPath, createTestDatabase, eventually, launchChromium, type TestDatabase } from './helpers.ts';

const TOKEN = 'browser-test-token-0123456789';
const XSS = '<img src=x onerror=alert(1)>';
const XSS_TYPE = '<script>window.__pwned = 1</script>';

const runs: { id: string; attempt: number }[] = [];
const flaky = defineJob<{ report: string }>({
  name: 'admin-e2e-report',
  options: { queueName: 'reports', deleteOnComplete: false },
  run: (_payload, ctx) => {
    runs.push({ id: ctx.job.id, attempt: ctx.job.attemptNumber });
  },
});
const email = defineJob<{ to: string }>({ name: 'admin-e2e-email', options: { queueName: 'email' }, run: () => undefined });
const resolved: unknown[] = [];
const parkable = defineJob<{ order: number }>({
  name: 'admin-e2e-payment',
  options: { queueName: 'payments', deleteOnComplete: false },
  run: () => 'wait_async',
  resolveWaitAsync: (_payload, data) => {
    resolved.push(data);
    return 'completed';
  },
});

/** Drives one job to `failed` or `wait_async` through the worker primitives (no worker timing involved). */
async function settleAs(store: Store, job: JobRecord, outcome: { status: 'failed'; error: string } | { status: 'wait_async' }): Promise<void> {
  const [claimed] = await store.claim({ workerId: 'seed', queues: [job.queueName], limit: 1, leaseMs: 60_000 });
  if (claimed?.job.id !== job.id) throw new Error(`seed: expected to claim job ${job.id}`);
  const r = await store.settle(claimed.claim, outcome);
  if (!r.applied) throw new Error('seed: settle not applied');
}

describe('admin dashboard in Chromium over PostgreSQL', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  let server: AdminServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const dialogs: string[] = [];
  let failedJob: JobRecord;
  let xssJob: JobRecord;
  let parkedJob: JobRecord;

  beforeAll(async () => {
    db = await createTestDatabase('browser');
    store = new PostgresStore({ connectionString: db.url }, { logger: 'silent' });
    await store.migrate();

    // Seed: email 3 queued; reports 1 failed; payments 1 wait_async; xss queue 1 queued.
    for (let i = 0; i < 3; i++) await store.enqueue('admin-e2e-email', { to: `user${i}@example.com` }, { queueName: 'email' });
    failedJob = await store.enqueue(flaky, { report: 'monthly' });
    await settleAs(store, failedJob, { status: 'failed', error: 'Error: upstream timed out' });
    parkedJob = await store.enqueue(parkable, { order: 42 });
    await settleAs(store, parkedJob, { status: 'wait_async' });
    xssJob = await store.enqueue(XSS_TYPE, XSS, { queueName: `xss${XSS}` });

    server = await startAdminServer({ store, token: TOKEN, port: 0, refreshIntervalMs: 250, sampleIntervalMs: 250, storeLabel: 'postgres', logger: 'silent' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      // Confirm prompts of destructive buttons are accepted; anything else (an alert) is recorded and dismissed.
      void (d.type() === 'confirm' ? d.accept() : d.dismiss());
    });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    await store?.close();
    await db?.drop();
  });

  it('answers 401 to a request without the token', async () => {
    const r = await page.goto(`${server.url}/`);
    expect(r?.status()).toBe(401);
    expect(await page.textContent('h1')).toContain('token required');
    await page.screenshot({ path: artifactPath('01-unauthorized.png') });
    const api = await page.request.get(`${server.url}/api/stats`);
    expect(api.status()).toBe(401);
    const job = await page.goto(`${server.url}/jobs/${failedJob.id}`);
    expect(job?.status()).toBe(401);
    expect(await page.content()).not.toContain('upstream timed out');
  });

  it('signs in through the login link, which then disappears from the address bar', async () => {
    const r = await page.goto(server.loginUrl);
    expect(r?.status()).toBe(200);
    expect(page.url()).toBe(`${server.url}/`);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === `jqjobs_admin_${server.port}`)?.httpOnly).toBe(true);
  });

  it('shows the right counts per queue and status, and refreshes them live', async () => {
    await page.goto(`${server.url}/`);
    const cell = (queue: string, status: string) => page.locator(`tr[data-queue="${queue}"] td[data-status="${status}"]`);
    expect(await cell('email', 'queued').textContent()).toBe('3');
    expect(await cell('email', 'failed').textContent()).toBe('0');
    expect(await cell('reports', 'failed').textContent()).toBe('1');
    expect(await cell('payments', 'wait_async').textContent()).toBe('1');
    expect(await page.locator('tr[data-totals] td[data-col="total"]').textContent()).toBe('6');
    expect(await page.locator('tr[data-queue="email"] td[data-col="due"]').textContent()).toBe('3');
    await page.screenshot({ path: artifactPath('02-overview.png'), fullPage: true });

    await store.enqueueMany([0, 1].map((i) => ({ type: 'admin-e2e-email', payload: { to: `late${i}@example.com` }, options: { queueName: 'email' } })));
    // Queued but scheduled for tomorrow: counted as queued, not as due.
    const tomorrow = await store.enqueue('admin-e2e-email', { to: 'tomorrow@example.com' }, { queueName: 'email', startAt: new Date(Date.now() + 86_400_000) });
    // The page polls /api/stats; wait for the new count (a hang guard, not a timing assertion).
    await page.waitForFunction(() => document.querySelector('tr[data-queue="email"] td[data-status="queued"]')?.textContent === '6', undefined, { timeout: 20_000 });
    expect(await page.locator('tr[data-totals] td[data-col="total"]').textContent()).toBe('9');
    expect(await page.locator('tr[data-queue="email"] td[data-col="due"]').textContent()).toBe('5');
    // email's 5 and the xss queue's 1.
    expect(await page.locator('tr[data-totals] td[data-col="due"]').textContent()).toBe('6');
    await store.delete(tomorrow.id);
    expect(await page.locator('#chart').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  });

  it('lists jobs with filters', async () => {
    await page.goto(`${server.url}/jobs`);
    await page.selectOption('select[name="status"]', 'failed');
    await Promise.all([page.waitForURL(/status=failed/), page.click('form.filters button')]);
    const rows = page.locator('#jobs tbody tr[data-job-id]');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-job-id')).toBe(failedJob.id);
    expect(await page.textContent('#range')).toBe('1–1 of 1');
    await page.screenshot({ path: artifactPath('03-jobs-failed.png'), fullPage: true });
  });

  it('restarts a failed job from its page, and a worker then runs it', async () => {
    await page.goto(`${server.url}/jobs/${failedJob.id}`);
    expect(await page.textContent('#error')).toContain('upstream timed out');
    expect(await page.textContent('#history')).toContain('attempt 1 started');
    await page.screenshot({ path: artifactPath('04-job-failed.png'), fullPage: true });

    await Promise.all([page.waitForURL(/done=restarted/), page.click('button[value="restart"]')]);
    expect(await page.textContent('.flash')).toContain('Job restarted');
    expect(await page.textContent('h1 .badge')).toBe('queued');
    expect((await store.get(failedJob.id)).status).toBe('queued');

    const worker = new Worker(store, { jobs: [flaky], queueName: 'reports', logger: 'silent', enableJitter: false, detectHungJobsEvery: 0, wakeupEvery: 1 });
    const stopped = worker.start();
    try {
      await eventually(async () => (await store.get(failedJob.id)).status === 'completed', 'the restarted job to complete');
    } finally {
      worker.stop();
      await stopped;
    }
    expect(runs).toEqual([{ id: failedJob.id, attempt: 1 }]);
    await page.reload();
    expect(await page.textContent('h1 .badge')).toBe('completed');
    await page.screenshot({ path: artifactPath('05-job-completed.png'), fullPage: true });
  });

  it('renders a payload of <img src=x onerror=alert(1)> as text and runs no script', async () => {
    await page.goto(`${server.url}/jobs/${xssJob.id}`);
    expect(await page.textContent('#payload')).toBe(JSON.stringify(XSS));
    expect(await page.textContent('#fields')).toContain(XSS_TYPE);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script:not([nonce])').count()).toBe(0);
    await page.screenshot({ path: artifactPath('06-xss-payload.png'), fullPage: true });

    await page.goto(`${server.url}/jobs?queue=${encodeURIComponent(`xss${XSS}`)}`);
    expect(await page.textContent('#jobs tbody')).toContain(XSS_TYPE);
    expect(await page.locator('img').count()).toBe(0);
    await page.goto(`${server.url}/`);
    expect(await page.locator('img').count()).toBe(1); // the chart
    expect(await page.locator(`tr[data-queue="xss${XSS}"] th`).textContent()).toBe(`xss${XSS}`);

    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(dialogs.filter((d) => !d.startsWith('confirm'))).toEqual([]);
  });

  it('resolves a wait_async job from its page', async () => {
    await page.goto(`${server.url}/jobs/${parkedJob.id}`);
    await page.fill('#resolve-data', '{"paid": true}');
    await page.screenshot({ path: artifactPath('07-job-resolve.png'), fullPage: true });
    await Promise.all([page.waitForURL(/done=resolved/), page.click('#resolve button[type="submit"]')]);
    expect(await page.textContent('.flash')).toContain('Job resolved');
    expect(resolved).toEqual([{ paid: true }]);
    expect((await store.get(parkedJob.id)).status).toBe('completed');
  });

  it('refuses a cross-site form post, with the session cookie present', async () => {
    const target = await store.enqueue('admin-e2e-email', { to: 'victim@example.com' }, { queueName: 'email' });
    // Another origin on the same host (same site, so even a SameSite=Strict cookie goes along).
    const evil: Server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(`<form method="post" action="${server.url}/jobs/${target.id}/delete"><input name="_csrf" value="guess"></form><script>document.forms[0].submit()</script>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    try {
      const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;
      const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/delete')), page.goto(evilUrl)]);
      expect(response.status()).toBe(403);
      expect((await store.get(target.id)).status).toBe('queued');
    } finally {
      await new Promise<void>((r) => evil.close(() => r()));
    }
  });

  it('charts the throughput a worker produces', async () => {
    await page.goto(`${server.url}/`);
    const queued = await store.count({ queueName: 'email', status: 'queued' });
    expect(queued).toBeGreaterThan(0);
    const worker = new Worker(store, { jobs: [email], queueName: 'email', logger: 'silent', enableJitter: false, detectHungJobsEvery: 0, exitIfNoJobs: true });
    await worker.start();
    expect(await store.count({ queueName: 'email' })).toBe(0);
    // The sampler sees the drain at its next stats() sample; wait for a bar in the chart (hang guard only).
    let finished = 0;
    await eventually(async () => {
      const svg = await (await page.request.get(`${server.url}/chart.svg`)).text();
      finished = [...svg.matchAll(/<title>(\d+) finished<\/title>/g)].reduce((sum, m) => sum + Number(m[1]), 0);
      return finished >= queued;
    }, 'the chart to show the drained jobs');
    // Earlier tests' completions (restart, resolve) are in the same hour, so at least the drained jobs show.
    expect(finished).toBeGreaterThanOrEqual(queued);
    // A queue without jobs drops out of stats(), so the live refresh reloads the page without the email row.
    await page.waitForFunction(() => document.querySelector('tr[data-queue="email"]') === null, undefined, { timeout: 20_000 });
    await page.screenshot({ path: artifactPath('08-overview-after-worker.png'), fullPage: true });
  }, 60_000);

  it('deletes a job from its page after confirmation', async () => {
    // Leave the live overview first: a new queue in its next poll makes it reload itself, which would abort the navigation below.
    await page.goto('about:blank');
    const job = await store.enqueue('admin-e2e-email', { to: 'gone@example.com' }, { queueName: 'email' });
    await page.goto(`${server.url}/jobs/${job.id}`);
    await Promise.all([page.waitForURL(/done=deleted/), page.click('button[value="delete"]')]);
    expect(await page.textContent('.flash')).toContain('Job deleted');
    await expect(store.get(job.id)).rejects.toThrow(/not found/i);
    expect(dialogs.some((d) => d.startsWith('confirm: Delete'))).toBe(true);
  });
});
