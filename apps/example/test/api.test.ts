// Bad requests get a 4xx with a JSON error, never a 500; the payment webhook
// answers each state of its job the way a provider's retry logic expects.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Running, startDemoShop } from './helpers.ts';

const order = { customerId: 'ada', email: 'ada@example.com', items: [{ sku: 'BOOK-1', quantity: 1, unitPrice: 1500 }] };
const json = { 'content-type': 'application/json' };

/** A payment provider that holds each charge request until told to answer, so a payment job stays `running`. */
function heldProvider() {
  const held: { jobId: string; release: () => void }[] = [];
  const waiting = new Set<() => void>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const jobId = (JSON.parse(body) as { metadata: { jobId: string } }).metadata.jobId;
      held.push({ jobId, release: () => res.writeHead(202, json).end(JSON.stringify({ id: `ch_${jobId}`, status: 'pending' })) });
      for (const w of waiting) w();
    });
  });
  return {
    held,
    start: () => new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))),
    nextCharge: () =>
      new Promise<{ jobId: string; release: () => void }>((resolve) => {
        const check = () => {
          const h = held.shift();
          if (!h) return;
          waiting.delete(check);
          resolve(h);
        };
        waiting.add(check);
        check();
      }),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

let running: Running;
let base: string;
const provider = heldProvider();

beforeAll(async () => {
  running = await startDemoShop('memory', await provider.start());
  base = running.shop.url;
});

afterAll(async () => {
  for (const h of provider.held) h.release();
  await running?.close();
  await provider.close();
});

async function send(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}) {
  const res = await fetch(`${base}${path}`, { method, ...init });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as { error?: { code: string; message: string } } & Record<string, unknown> };
}

const post = (path: string, body: unknown) => send('POST', path, { headers: json, body: JSON.stringify(body) });

describe('bad requests get a 4xx with a JSON error', () => {
  const withItem = (item: Record<string, unknown>) => ({ ...order, items: [item] });
  const cases: [what: string, method: string, path: string, init: { headers?: Record<string, string>; body?: string }, status: number, code: string][] = [
    ['unknown route', 'GET', '/nope', {}, 404, 'not_found'],
    ['the root', 'GET', '/', {}, 404, 'not_found'],
    ['GET on a POST route', 'GET', '/orders', {}, 405, 'method_not_allowed'],
    ['DELETE on an order', 'DELETE', '/orders/ord_000000000000', {}, 405, 'method_not_allowed'],
    ['PUT on the webhook', 'PUT', '/webhooks/payments', {}, 405, 'method_not_allowed'],
    ['GET on the re-index action', 'GET', '/customers/ada/reindex', {}, 405, 'method_not_allowed'],
    ['malformed JSON', 'POST', '/orders', { headers: json, body: '{"customerId":' }, 400, 'malformed_json'],
    ['an empty body', 'POST', '/orders', { headers: json, body: '' }, 400, 'malformed_json'],
    ['no content type', 'POST', '/orders', { body: JSON.stringify(order) }, 415, 'unsupported_media_type'],
    ['a text/plain body', 'POST', '/orders', { headers: { 'content-type': 'text/plain' }, body: JSON.stringify(order) }, 415, 'unsupported_media_type'],
    ['a body over 64 KiB', 'POST', '/orders', { headers: json, body: JSON.stringify({ ...order, email: 'x'.repeat(70_000) }) }, 413, 'too_large'],
    ['a JSON array', 'POST', '/orders', { headers: json, body: '[]' }, 400, 'invalid_request'],
    ['JSON null', 'POST', '/orders', { headers: json, body: 'null' }, 400, 'invalid_request'],
    ['a JSON string', 'POST', '/orders', { headers: json, body: '"order"' }, 400, 'invalid_request'],
    ['no fields', 'POST', '/orders', { headers: json, body: '{}' }, 400, 'invalid_request'],
    ['an unknown field', 'POST', '/orders', { headers: json, body: JSON.stringify({ ...order, coupon: 'FREE' }) }, 400, 'invalid_request'],
    ['a __proto__ field', 'POST', '/orders', { headers: json, body: '{"__proto__":{"admin":true},"customerId":"ada"}' }, 400, 'invalid_request'],
    ['an upper-case customer id', 'POST', '/orders', { headers: json, body: JSON.stringify({ ...order, customerId: 'Ada' }) }, 400, 'invalid_request'],
    ['a customer id of 65 characters', 'POST', '/orders', { headers: json, body: JSON.stringify({ ...order, customerId: 'a'.repeat(65) }) }, 400, 'invalid_request'],
    ['a bad e-mail', 'POST', '/orders', { headers: json, body: JSON.stringify({ ...order, email: 'ada at example' }) }, 400, 'invalid_request'],
    ['a card that is not a token', 'POST', '/orders', { headers: json, body: JSON.stringify({ ...order, card: '4242424242424242' }) }, 400, 'invalid_request'],
    ['items that are not an array', 'POST', '/orders', { headers: json, body: JSON.stringify({ ...order, items: { sku: 'A' } }) }, 400, 'invalid_request'],
    ['no items', 'POST', '/orders', { headers: json, body: JSON.stringify({ ...order, items: [] }) }, 400, 'invalid_request'],
    ['51 items', 'POST', '/orders', { headers: json, body: JSON.stringify({ ...order, items: Array(51).fill(order.items[0]) }) }, 400, 'invalid_request'],
    ['an item that is not an object', 'POST', '/orders', { headers: json, body: JSON.stringify({ ...order, items: [7] }) }, 400, 'invalid_request'],
    ['quantity 0', 'POST', '/orders', { headers: json, body: JSON.stringify(withItem({ sku: 'A', quantity: 0, unitPrice: 1 })) }, 400, 'invalid_request'],
    ['quantity 1.5', 'POST', '/orders', { headers: json, body: JSON.stringify(withItem({ sku: 'A', quantity: 1.5, unitPrice: 1 })) }, 400, 'invalid_request'],
    ['a negative price', 'POST', '/orders', { headers: json, body: JSON.stringify(withItem({ sku: 'A', quantity: 1, unitPrice: -5 })) }, 400, 'invalid_request'],
    ['a price as a string', 'POST', '/orders', { headers: json, body: JSON.stringify(withItem({ sku: 'A', quantity: 1, unitPrice: '15.00' })) }, 400, 'invalid_request'],
    ['a huge quantity', 'POST', '/orders', { headers: json, body: '{"customerId":"ada","email":"ada@example.com","items":[{"sku":"A","quantity":1e308,"unitPrice":1}]}' }, 400, 'invalid_request'],
    ['a sku with spaces', 'POST', '/orders', { headers: json, body: JSON.stringify(withItem({ sku: 'A B', quantity: 1, unitPrice: 1 })) }, 400, 'invalid_request'],
    ['an item with an unknown field', 'POST', '/orders', { headers: json, body: JSON.stringify(withItem({ sku: 'A', quantity: 1, unitPrice: 1, discount: 1 })) }, 400, 'invalid_request'],
    ['an unknown order', 'GET', '/orders/ord_000000000000', {}, 404, 'not_found'],
    ['a malformed order id', 'GET', '/orders/..%2F..%2Fetc', {}, 404, 'not_found'],
    ['bad percent-encoding', 'GET', '/orders/%E0%A4%A', {}, 404, 'not_found'],
    ['an unknown job', 'GET', '/jobs/987654321', {}, 404, 'not_found'],
    ['a job id that is no id', 'GET', '/jobs/abc', {}, 404, 'not_found'],
    ['a 100-character job id', 'GET', `/jobs/${'9'.repeat(100)}`, {}, 404, 'not_found'],
    ['an invalid customer id', 'POST', '/customers/Ada!/reindex', {}, 404, 'not_found'],
    ['a webhook without a signature', 'POST', '/webhooks/payments', { headers: json, body: JSON.stringify({ chargeId: 'ch_1', jobId: '1', status: 'succeeded' }) }, 401, 'invalid_signature'],
    ['a webhook with a wrong signature', 'POST', '/webhooks/payments', { headers: { ...json, 'x-provider-signature': `sha256=${'0'.repeat(64)}` }, body: '{}' }, 401, 'invalid_signature'],
    ['a webhook with a short signature', 'POST', '/webhooks/payments', { headers: { ...json, 'x-provider-signature': 'sha256=abc' }, body: '{}' }, 401, 'invalid_signature'],
  ];

  it.each(cases)('%s → %i', async (_what, method, path, init, status, code) => {
    const r = await send(method, path, init);
    expect(r.status, r.text).toBe(status);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.body.error).toEqual({ code, message: expect.any(String) });
    if (status === 405) expect(r.headers.get('allow')).toMatch(/^(GET|POST)$/);
  });

  it('a field error names the field', async () => {
    const r = await post('/orders', { ...order, items: [{ sku: 'A', quantity: 0, unitPrice: 1 }] });
    expect(r.body.error?.message).toBe('items[0].quantity must be an integer from 1 to 100');
  });
});

describe('good requests', () => {
  it('an order is created with its jobs, and can be read back with them', async () => {
    const created = await post('/orders', order);
    expect(created.status).toBe(201);
    const { order: o, enqueued } = created.body as { order: { id: string; status: string }; enqueued: { payment: string } };
    expect(o.status).toBe('awaiting_payment');
    const read = await send('GET', `/orders/${o.id}`);
    expect(read.status).toBe(200);
    expect((read.body.order as { jobs: { payment: { id: string } } }).jobs.payment.id).toBe(enqueued.payment);
    (await provider.nextCharge()).release();
    const job = await send('GET', `/jobs/${enqueued.payment}`);
    expect(job.status).toBe(200);
    expect(job.body.job).toMatchObject({ id: enqueued.payment, type: 'sync-payment', queue: 'payments' });
  });

  it('GET /stats lists every shop queue', async () => {
    const r = await send('GET', '/stats?verbose=1');
    expect(r.status).toBe(200);
    expect((r.body.queues as { queue: string }[]).map((q) => q.queue)).toEqual(['payments', 'email', 'documents', 'search']);
  });
});

describe('the payment webhook', () => {
  const sign = (body: string) => `sha256=${createHmac('sha256', 'test-secret').update(body).digest('hex')}`;
  const webhook = (payload: unknown) => {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    return send('POST', '/webhooks/payments', { headers: { ...json, 'x-provider-signature': sign(body) }, body });
  };
  const waitForStatus = async (id: string, status: string) => {
    // A hang guard, not a timing check: the worker settles the job when the provider answers.
    for (let i = 0; i < 300; i++) {
      const r = await send('GET', `/jobs/${id}`);
      if ((r.body.job as { status: string }).status === status) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`job ${id} never reached ${status}`);
  };

  it('asks for a retry (409) while the job runs, resolves it once parked, and acknowledges a repeat', async () => {
    const created = await post('/orders', { ...order, customerId: 'webhook-test' });
    const { payment, confirmation } = created.body.enqueued as { payment: string; confirmation: string };
    const charge = await provider.nextCharge(); // the job is running, waiting for the provider's answer
    expect(charge.jobId).toBe(payment);

    const early = await webhook({ chargeId: 'ch_1', jobId: payment, status: 'succeeded' });
    expect(early.status).toBe(409);
    expect(early.body.error?.code).toBe('not_waiting');

    charge.release();
    await waitForStatus(payment, 'wait_async');
    const resolved = await webhook({ chargeId: 'ch_1', jobId: payment, status: 'succeeded' });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toEqual({ job: payment, status: 'completed' });

    const repeat = await webhook({ chargeId: 'ch_1', jobId: payment, status: 'succeeded' });
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual({ job: payment, status: 'completed', duplicate: true });

    // Only payment jobs can be resolved through it.
    const other = await webhook({ chargeId: 'ch_1', jobId: confirmation, status: 'succeeded' });
    expect(other.status).toBe(404);
  });

  it('refuses signed bodies that are not a payment result', async () => {
    for (const [payload, status, code] of [
      ['{"chargeId":', 400, 'malformed_json'],
      [{ chargeId: 'ch_1', jobId: '1' }, 400, 'invalid_request'],
      [{ chargeId: 'ch_1', jobId: '1', status: 'refunded' }, 400, 'invalid_request'],
      [{ chargeId: 'ch 1', jobId: '1', status: 'succeeded' }, 400, 'invalid_request'],
      [{ chargeId: 'ch_1', jobId: '1', status: 'succeeded', amount: 5 }, 400, 'invalid_request'],
      [{ chargeId: 'ch_1', jobId: '987654321', status: 'succeeded' }, 404, 'not_found'],
    ] as const) {
      const r = await webhook(payload);
      expect(r.status, JSON.stringify(payload)).toBe(status);
      expect(r.body.error?.code).toBe(code);
    }
  });
});
