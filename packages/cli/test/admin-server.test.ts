import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defineJob, type JobRecord, type Store } from '@jqjobs/core';
import { MemoryStore } from '@jqjobs/store-memory';
import { startAdminServer, type AdminServer } from '../src/admin-server/index.ts';
import { bucketize, finishedBetween, SampleRing, summarize, type Sample } from '../src/admin-server/history.ts';
import { escapeHtml, html } from '../src/admin-server/html.ts';
import { safeEqual } from '../src/admin-server/auth.ts';

const TOKEN = 'test-token-0123456789-abcdef';
const XSS = '<img src=x onerror=alert(1)>';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** node:http rather than fetch: the tests set Host, Origin and Sec-Fetch-* headers, which fetch forbids. */
function call(server: AdminServer, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path, headers: { host: `127.0.0.1:${server.port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const bearer = { authorization: `Bearer ${TOKEN}` };

let resolvedWith: unknown[] = [];
const parkable = defineJob<{ n: number }>({
  name: 'admin-test-parkable',
  run: () => 'wait_async',
  resolveWaitAsync: (_p, data) => {
    resolvedWith.push(data);
    return 'completed';
  },
});

async function makeFailed(store: Store, payload: unknown, queueName = 'default'): Promise<JobRecord> {
  // Top priority so the claim takes this job even when the queue holds others.
  const job = await store.enqueue('admin-test-plain', payload, { queueName, priority: 100 });
  const [claimed] = await store.claim({ workerId: 't', queues: [queueName], limit: 1, leaseMs: 30_000 });
  if (!claimed || claimed.job.id !== job.id) throw new Error('test setup: claim mismatch');
  await store.settle(claimed.claim, { status: 'failed', error: `boom ${XSS}` });
  return store.get(job.id);
}

async function makeParked(store: Store): Promise<JobRecord> {
  const job = await store.enqueue(parkable, { n: 1 }, { queueName: 'parked', deleteOnComplete: false });
  const [claimed] = await store.claim({ workerId: 't', queues: ['parked'], limit: 1, leaseMs: 30_000 });
  if (!claimed) throw new Error('test setup: nothing claimed');
  await store.settle(claimed.claim, { status: 'wait_async' });
  return store.get(job.id);
}

describe('admin dashboard server (MemoryStore)', () => {
  let store: MemoryStore;
  let server: AdminServer;
  let cookie: string;

  beforeAll(async () => {
    store = new MemoryStore({ logger: 'silent' });
    server = await startAdminServer({ store, token: TOKEN, port: 0, logger: 'silent', storeLabel: 'memory' });
    const login = await call(server, 'GET', `/?token=${encodeURIComponent(TOKEN)}`);
    const set = login.headers['set-cookie'];
    cookie = (Array.isArray(set) ? set[0] : set)?.split(';')[0] ?? '';
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });
  beforeEach(() => {
    resolvedWith = [];
  });

  it('binds 127.0.0.1 by default and refuses short tokens', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    await expect(startAdminServer({ store, token: 'short', port: 0 })).rejects.toThrow(/at least 16/);
  });

  it('answers 401 to every request without the token, reads included, and shows no job data', async () => {
    const job = await store.enqueue('admin-test-plain', { secret: 'payload-secret' });
    for (const path of ['/', '/jobs', `/jobs/${job.id}`, '/api/stats', '/api/jobs', '/chart.svg', '/nope']) {
      const r = await call(server, 'GET', path);
      expect(r.status, path).toBe(401);
      expect(r.body).not.toContain('payload-secret');
    }
    const post = await call(server, 'POST', `/jobs/${job.id}/delete`, { 'content-type': 'application/x-www-form-urlencoded', origin: server.url }, '');
    expect(post.status).toBe(401);
    expect((await store.get(job.id)).id).toBe(job.id);
    expect((await call(server, 'GET', '/', { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    // A wrong Authorization header is not rescued by a good cookie.
    expect((await call(server, 'GET', '/', { authorization: 'Bearer nope', cookie })).status).toBe(401);
    expect((await call(server, 'GET', '/?token=not-the-token')).status).toBe(401);
  });

  it('trades /?token= for an HttpOnly SameSite cookie and drops the token from the URL', async () => {
    const r = await call(server, 'GET', `/jobs?status=failed&token=${encodeURIComponent(TOKEN)}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/jobs?status=failed');
    const set = String(r.headers['set-cookie']);
    expect(set).toContain(`jqjobs_admin_${server.port}=`);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).not.toContain(TOKEN);
    expect((await call(server, 'GET', '/', { cookie })).status).toBe(200);
    expect((await call(server, 'GET', '/', bearer)).status).toBe(200);
    // The redirect never leaves the origin, whatever the path looks like.
    const odd = await call(server, 'GET', `/.//evil.example/x?token=${encodeURIComponent(TOKEN)}`);
    expect(odd.status).toBe(303);
    expect(odd.headers.location).toBe('/evil.example/x');
  });

  it('rejects a foreign Host header (DNS rebinding)', async () => {
    const r = await call(server, 'GET', '/', { ...bearer, host: `evil.example:${server.port}` });
    expect(r.status).toBe(403);
    expect((await call(server, 'GET', '/', { ...bearer, host: `localhost:${server.port}` })).status).toBe(200);
  });

  it('sends a strict CSP and no-store on pages', async () => {
    const r = await call(server, 'GET', '/', bearer);
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'nonce-[^']+'/);
    expect(csp).not.toContain('unsafe-inline');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['x-frame-options']).toBe('DENY');
  });

  it('shows counts per queue and status, as HTML and JSON', async () => {
    const s = new MemoryStore({ logger: 'silent' });
    const srv = await startAdminServer({ store: s, token: TOKEN, port: 0, logger: 'silent' });
    try {
      await s.enqueueMany([
        { type: 'x', payload: 1, options: { queueName: 'alpha' } },
        { type: 'x', payload: 2, options: { queueName: 'alpha' } },
        { type: 'x', payload: 3, options: { queueName: 'beta' } },
      ]);
      await makeFailed(s, { a: 1 }, 'beta');
      const api = JSON.parse((await call(srv, 'GET', '/api/stats', bearer)).body) as { queues: { queueName: string; counts: Record<string, number> }[] };
      expect(api.queues.map((q) => [q.queueName, q.counts.queued, q.counts.failed])).toEqual([
        ['alpha', 2, 0],
        ['beta', 1, 1],
      ]);
      const page = (await call(srv, 'GET', '/', bearer)).body;
      expect(page).toMatch(/<tr data-queue="alpha">.*data-status="queued"><a [^>]*>2<\/a>/);
      expect(page).toMatch(/<tr data-queue="beta">.*data-status="failed"><a [^>]*>1<\/a>/);
      const chart = await call(srv, 'GET', '/chart.svg', bearer);
      expect(chart.status).toBe(200);
      expect(chart.headers['content-type']).toContain('image/svg+xml');
      expect(chart.body).toContain('<svg');
    } finally {
      await srv.close();
      await s.close();
    }
  });

  it('escapes every job field it renders', async () => {
    const job = await makeFailed(store, XSS, `q${XSS}`);
    const page = await call(server, 'GET', `/jobs/${job.id}`, bearer);
    expect(page.status).toBe(200);
    expect(page.body).not.toContain('<img src=x');
    expect(page.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    const list = await call(server, 'GET', `/jobs?queue=${encodeURIComponent(`q${XSS}`)}`, bearer);
    expect(list.body).not.toContain('<img src=x');
    expect(list.body).toContain(`data-job-id="${job.id}"`);
    const overview = await call(server, 'GET', '/', bearer);
    expect(overview.body).not.toContain('<img src=x');
    const api = await call(server, 'GET', `/api/jobs/${job.id}`, bearer);
    expect(api.body).not.toContain('<img');
    expect((JSON.parse(api.body) as { job: JobRecord }).job.payload).toBe(XSS);
  });

  it('pages and filters the job table', async () => {
    const s = new MemoryStore({ logger: 'silent' });
    const srv = await startAdminServer({ store: s, token: TOKEN, port: 0, logger: 'silent' });
    try {
      for (let i = 0; i < 30; i++) await s.enqueue('x', i, { queueName: i % 2 ? 'odd' : 'even' });
      const p1 = await call(srv, 'GET', '/jobs?queue=odd&limit=10', bearer);
      expect(p1.body).toContain('1–10 of 15');
      expect(p1.body).toContain('href="/jobs?queue=odd&amp;limit=10&amp;offset=10"');
      const p2 = JSON.parse((await call(srv, 'GET', '/api/jobs?queue=odd&limit=10&offset=10', bearer)).body) as { total: number; jobs: JobRecord[] };
      expect(p2.total).toBe(15);
      expect(p2.jobs.map((j) => j.payload)).toEqual([21, 23, 25, 27, 29]);
      expect((await call(srv, 'GET', '/jobs?status=bogus', bearer)).status).toBe(400);
      expect((await call(srv, 'GET', '/jobs?limit=-1', bearer)).status).toBe(400);
      expect((await call(srv, 'GET', '/jobs/999999', bearer)).status).toBe(404);
    } finally {
      await srv.close();
      await s.close();
    }
  });

  describe('POST actions', () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };

    async function csrf(): Promise<string> {
      const page = (await call(server, 'GET', '/', { cookie })).body;
      const m = /name="_csrf" value="([^"]+)"/.exec(page);
      if (!m?.[1]) throw new Error('no csrf field on the page');
      return m[1];
    }

    it('refuses cross-site requests and requests without the CSRF field; the job is unchanged', async () => {
      const job = await makeFailed(store, { k: 'csrf' });
      const token = await csrf();
      const path = `/jobs/${job.id}/retry`;
      const attempts: [Record<string, string>, string][] = [
        [{ origin: server.url, 'sec-fetch-site': 'same-origin' }, ''],
        [{ origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }, `_csrf=${token}`],
        [{ origin: 'http://evil.example' }, `_csrf=${token}`],
        [{ 'sec-fetch-site': 'same-site' }, `_csrf=${token}`],
        [{ origin: 'null' }, `_csrf=${token}`],
        [{}, `_csrf=${token}`],
        [{ origin: server.url }, `_csrf=${token}x`],
      ];
      for (const [headers, body] of attempts) {
        const r = await call(server, 'POST', path, { ...form, cookie, ...headers }, body);
        expect(r.status, JSON.stringify(headers) + body).toBe(403);
      }
      // Bearer requests need no CSRF field, but a contradicting Origin still refuses them.
      expect((await call(server, 'POST', path, { ...form, ...bearer, origin: 'http://evil.example' }, '')).status).toBe(403);
      expect((await store.get(job.id)).status).toBe('failed');

      const ok = await call(server, 'POST', path, { ...form, cookie, origin: server.url }, `_csrf=${token}`);
      expect(ok.status).toBe(303);
      expect(ok.headers.location).toBe(`/jobs/${job.id}?done=retried`);
      const after = await store.get(job.id);
      expect(after.status).toBe('queued');
      expect(after.attemptNumber).toBe(0);
    });

    it('retry accepts only failed jobs; restart any', async () => {
      const job = await store.enqueue('admin-test-plain', { k: 'r' });
      const retry = await call(server, 'POST', `/jobs/${job.id}/retry`, { ...form, ...bearer }, '');
      expect(retry.status).toBe(409);
      expect(retry.body).toContain('expected failed');
      const restart = await call(server, 'POST', `/jobs/${job.id}/restart`, { ...form, ...bearer, accept: 'application/json' }, '');
      expect(restart.status).toBe(200);
      expect((JSON.parse(restart.body) as { job: JobRecord }).job.status).toBe('queued');
    });

    it('deletes, and answers 404 for a missing job', async () => {
      const job = await store.enqueue('admin-test-plain', { k: 'd' });
      const token = await csrf();
      const r = await call(server, 'POST', `/jobs/${job.id}/delete`, { ...form, cookie, 'sec-fetch-site': 'same-origin' }, `_csrf=${token}`);
      expect(r.status).toBe(303);
      expect(r.headers.location).toBe('/jobs?done=deleted');
      await expect(store.get(job.id)).rejects.toThrow(/not found/i);
      expect((await call(server, 'POST', `/jobs/${job.id}/delete`, { ...form, ...bearer }, '')).status).toBe(404);
      expect((await call(server, 'POST', `/jobs/${job.id}/frobnicate`, { ...form, ...bearer }, '')).status).toBe(404);
    });

    it('resolves a wait_async job; malformed JSON is a 400 and changes nothing', async () => {
      const job = await makeParked(store);
      const bad = await call(server, 'POST', `/jobs/${job.id}/resolve`, { ...form, ...bearer }, `data=${encodeURIComponent('{nope')}`);
      expect(bad.status).toBe(400);
      expect(bad.body).toContain('not valid JSON');
      expect((await store.get(job.id)).status).toBe('wait_async');
      expect(resolvedWith).toEqual([]);
      const page = (await call(server, 'GET', `/jobs/${job.id}`, bearer)).body;
      expect(page).toContain('id="resolve"');
      const ok = await call(server, 'POST', `/jobs/${job.id}/resolve`, { ...form, ...bearer }, `data=${encodeURIComponent('{"ok":true}')}`);
      expect(ok.status).toBe(303);
      expect(resolvedWith).toEqual([{ ok: true }]);
      expect((await store.get(job.id)).status).toBe('completed');
    });

    it('runs hung-job detection', async () => {
      const r = await call(server, 'POST', '/actions/detect-hung', { ...form, ...bearer }, '');
      expect(r.status).toBe(303);
      expect(r.headers.location).toMatch(/^\/\?done=detect-hung&retried=\d+$/);
      const page = await call(server, 'GET', r.headers.location as string, bearer);
      expect(page.body).toMatch(/Hung-job detection retried \d+ job/);
    });
  });
});

describe('throughput history', () => {
  const at = (m: number) => 1_700_000_000_000 - (1_700_000_000_000 % 60_000) + m * 60_000;
  const sample = (t: number, pending: number, finished: number, queued = pending): Sample => ({ at: t, pending, finished, queued });

  it('estimates finished jobs as a lower bound from two samples', () => {
    expect(finishedBetween(sample(0, 10, 0), sample(1, 4, 0))).toBe(6); // 6 completed and deleted
    expect(finishedBetween(sample(0, 10, 0), sample(1, 7, 3))).toBe(3); // 3 failed, kept
    expect(finishedBetween(sample(0, 10, 5), sample(1, 12, 5))).toBe(0); // only enqueues
    expect(finishedBetween(sample(0, 10, 5), sample(1, 6, 6))).toBe(4); // 3 deleted-completed + 1 kept
  });

  it('keeps a bounded ring and buckets per minute', () => {
    const ring = new SampleRing(3);
    for (let i = 0; i < 5; i++) ring.push(sample(at(i), 10 - i, 0));
    expect(ring.toArray().map((s) => s.pending)).toEqual([8, 7, 6]);
    const buckets = bucketize(ring.toArray(), at(4) + 5000, 60_000, 5);
    expect(buckets.map((b) => b.finished)).toEqual([null, null, null, 1, 1]);
    expect(buckets.map((b) => b.queued)).toEqual([null, null, 8, 7, 6]);
  });

  it('sums stats over queues', () => {
    const counts = { unqueued: 1, queued: 2, running: 3, wait_async: 4, completed: 5, failed: 6 };
    expect(summarize(7, [{ queueName: 'a', counts, dueCount: 2, oldestQueuedAgeMs: null }, { queueName: 'b', counts, dueCount: 2, oldestQueuedAgeMs: 5 }])).toEqual({ at: 7, pending: 20, finished: 22, queued: 4 });
  });
});

describe('html escaping', () => {
  it('escapes every interpolation and only those', () => {
    expect(escapeHtml(`<a href="x" title='y'>&\``)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;');
    expect(html`<p title="${'"><script>'}">${XSS}</p>`.value).toBe('<p title="&quot;&gt;&lt;script&gt;">&lt;img src=x onerror=alert(1)&gt;</p>');
    expect(html`<b>${html`<i>${'<'}</i>`}</b>`.value).toBe('<b><i>&lt;</i></b>');
    expect(html`${null}${undefined}${false}${0}`.value).toBe('0');
  });

  it('compares tokens by value whatever their lengths', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    expect(safeEqual('', 'x')).toBe(false);
  });
});
