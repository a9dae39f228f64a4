// The shop's HTTP API on node:http. Every request is answered with JSON; input is
// validated before anything is enqueued, so a bad request gets a 4xx naming the
// problem, never a 500.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Autoscaler } from '@jqjobs/autoscaler';
import {
  InvalidJobOptionsError,
  InvalidStateError,
  JobLockedError,
  JobNotFoundError,
  type JobRecord,
  PayloadNotSerializableError,
  resolveWaitAsyncJob,
  StoreClosedError,
  StoreConnectionError,
  type Store,
} from '@jqjobs/core';
import type { Delayed } from '@jqjobs/delayed-job';
import { coalesceIds, type PaymentResult, QUEUES, type ShopJobs } from './jobs.ts';
import type { Timeline } from './timeline.ts';

export interface ApiOptions {
  store: Store;
  jobs: ShopJobs;
  /** Shared with the payment provider; webhook bodies must carry its HMAC. */
  webhookSecret: string;
  timeline: Timeline;
  /** Runs the request log after each response. */
  delayed: Delayed;
  autoscaler: Autoscaler | null;
}

interface OrderItem {
  sku: string;
  quantity: number;
  unitPrice: number;
}

/** Orders live in this process to keep the example small; a real shop keeps them in its database. */
interface Order {
  id: string;
  customerId: string;
  email: string;
  items: OrderItem[];
  total: number;
  createdAt: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 64 * 1024;
const CUSTOMER_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const ORDER_ID = /^ord_[0-9a-f]{12}$/;
const JOB_ID = /^[A-Za-z0-9_:-]{1,64}$/;

type Handler = (req: IncomingMessage, params: string[]) => Promise<[status: number, body: unknown]>;

export function createApi(options: ApiOptions): RequestListener {
  const { store, jobs, timeline, delayed } = options;
  const orders = new Map<string, Order>();

  const routes: { method: string; path: RegExp; handler: Handler }[] = [
    { method: 'POST', path: /^\/orders$/, handler: createOrder },
    { method: 'GET', path: /^\/orders\/([^/]+)$/, handler: getOrder },
    { method: 'POST', path: /^\/customers\/([^/]+)\/reindex$/, handler: reindexCustomer },
    { method: 'GET', path: /^\/jobs\/([^/]+)$/, handler: getJob },
    { method: 'GET', path: /^\/stats$/, handler: getStats },
    { method: 'POST', path: /^\/webhooks\/payments$/, handler: paymentWebhook },
  ];

  async function createOrder(req: IncomingMessage): Promise<[number, unknown]> {
    const body = fields(await readJson(req), 'body', ['customerId', 'email', 'items', 'card']);
    const customerId = text(body.customerId, 'customerId', CUSTOMER_ID, 'lowercase letters, digits, - and _');
    const email = text(body.email, 'email', /^[^\s@]{1,64}@[^\s@]{1,190}\.[a-z]{2,24}$/i, 'an e-mail address');
    const card = body.card === undefined ? 'tok_visa' : text(body.card, 'card', /^tok_[a-z0-9_]{1,32}$/, 'a card token such as tok_visa');
    if (!Array.isArray(body.items) || body.items.length === 0 || body.items.length > 50) throw invalid('items', 'must be an array of 1 to 50 items');
    const items = body.items.map((raw: unknown, i: number): OrderItem => {
      const item = fields(raw, `items[${i}]`, ['sku', 'quantity', 'unitPrice']);
      return {
        sku: text(item.sku, `items[${i}].sku`, /^[A-Za-z0-9-]{1,32}$/, 'letters, digits and -'),
        quantity: integer(item.quantity, `items[${i}].quantity`, 1, 100),
        unitPrice: integer(item.unitPrice, `items[${i}].unitPrice`, 1, 1_000_000),
      };
    });
    const total = items.reduce((sum, it) => sum + it.quantity * it.unitPrice, 0);
    const order: Order = { id: `ord_${randomBytes(6).toString('hex')}`, customerId, email, items, total, createdAt: new Date().toISOString() };

    // One round trip, all or nothing: the order never exists with half its jobs.
    const [payment, confirmation, reindex] = await store.enqueueMany([
      { type: jobs.syncPayment, payload: { orderId: order.id, customerEmail: email, amount: total, card } },
      { type: jobs.sendEmail, payload: { to: email, template: 'order-confirmation', orderId: order.id } },
      jobs.reindex(customerId),
    ]);
    orders.set(order.id, order);
    if (reindex!.coalesced) timeline.note('coalesced', `re-index of customer ${customerId} joins the waiting job #${reindex!.id}`, reindex);
    return [201, { order: await orderView(order), enqueued: { payment: payment!.id, confirmation: confirmation!.id, reindex: { id: reindex!.id, coalesced: reindex!.coalesced } } }];
  }

  async function getOrder(_req: IncomingMessage, [id]: string[]): Promise<[number, unknown]> {
    const order = ORDER_ID.test(id!) ? orders.get(id!) : undefined;
    if (!order) throw new HttpError(404, 'not_found', `no order ${id}`);
    return [200, { order: await orderView(order) }];
  }

  /** The order with its jobs, found by their coalesce ids: the order needs no job ids of its own. */
  async function orderView(order: Order) {
    const ids = {
      payment: coalesceIds.payment(order.id),
      confirmation: coalesceIds.email('order-confirmation', order.id),
      invoice: coalesceIds.invoice(order.id),
      reviewRequest: coalesceIds.email('review-request', order.id),
      paymentFailed: coalesceIds.email('payment-failed', order.id),
    };
    const found = await Promise.all(Object.entries(ids).map(async ([name, coalesceId]) => [name, jobView(await store.getByCoalesceId(coalesceId))] as const));
    const jobsByName = Object.fromEntries(found) as Record<keyof typeof ids, ReturnType<typeof jobView>>;
    const payment = jobsByName.payment?.status;
    const status = payment === 'completed' ? 'paid' : payment === 'failed' ? 'payment_failed' : 'awaiting_payment';
    return { ...order, status, jobs: jobsByName };
  }

  async function reindexCustomer(_req: IncomingMessage, [customerId]: string[]): Promise<[number, unknown]> {
    if (!CUSTOMER_ID.test(customerId!)) throw new HttpError(404, 'not_found', 'customer ids are lowercase letters, digits, - and _');
    const [job] = await store.enqueueMany([jobs.reindex(customerId!)]);
    if (job!.coalesced) timeline.note('coalesced', `re-index of customer ${customerId} joins the waiting job #${job!.id}`, job);
    return [202, { job: jobView(job!), coalesced: job!.coalesced }];
  }

  async function getJob(_req: IncomingMessage, [id]: string[]): Promise<[number, unknown]> {
    if (!JOB_ID.test(id!)) throw new HttpError(404, 'not_found', `no job ${id}`);
    return [200, { job: jobView(await store.get(id!)) }];
  }

  async function getStats(): Promise<[number, unknown]> {
    const all = await store.stats();
    const queues = QUEUES.map((q) => {
      const s = all.find((x) => x.queueName === q);
      return { queue: q, counts: s?.counts ?? null, oldestQueuedAgeMs: s?.oldestQueuedAgeMs ?? null };
    });
    const scaler = options.autoscaler;
    const decisions = scaler
      ? Object.fromEntries(
          QUEUES.map((q) => {
            const r = scaler.explain(q);
            return [q, r && { action: r.action, from: r.from, to: r.to, message: r.message }];
          }),
        )
      : null;
    return [200, { queues, autoscaler: decisions }];
  }

  async function paymentWebhook(req: IncomingMessage): Promise<[number, unknown]> {
    const raw = await readBody(req, true);
    if (!validSignature(options.webhookSecret, raw, req.headers['x-provider-signature'])) throw new HttpError(401, 'invalid_signature', 'missing or wrong x-provider-signature');
    const body = fields(parseJson(raw), 'body', ['chargeId', 'jobId', 'status']);
    const result: PaymentResult = {
      chargeId: text(body.chargeId, 'chargeId', /^[A-Za-z0-9_]{1,64}$/, 'a charge id'),
      jobId: text(body.jobId, 'jobId', JOB_ID, 'a job id'),
      status: oneOf(body.status, 'status', ['succeeded', 'declined'] as const),
    };
    timeline.note('webhook', `payment provider: charge ${result.chargeId} ${result.status} for job #${result.jobId}`);

    // Only payment jobs may be resolved from here, whatever id the body names.
    const job = await store.get(result.jobId).catch((err: unknown) => {
      if (err instanceof JobNotFoundError) return null;
      throw err;
    });
    if (!job || job.type !== jobs.syncPayment.name) throw new HttpError(404, 'not_found', `no payment job ${result.jobId}`);
    try {
      const disposition = await resolveWaitAsyncJob(store, job.id, result, { jobs: jobs.all });
      return [200, { job: job.id, status: disposition }];
    } catch (err) {
      // Providers re-send until they get a 2xx: acknowledge a repeat, ask for a
      // retry (409) when the job has not parked yet or another delivery holds it.
      if (err instanceof InvalidStateError && (err.status === 'completed' || err.status === 'failed')) return [200, { job: job.id, status: err.status, duplicate: true }];
      if (err instanceof InvalidStateError) throw new HttpError(409, 'not_waiting', `job ${job.id} is ${err.status}, not waiting for a payment result yet; retry later`);
      if (err instanceof JobLockedError) throw new HttpError(409, 'locked', `job ${job.id} is being resolved by another delivery; retry later`);
      throw err;
    }
  }

  async function handle(req: IncomingMessage): Promise<[number, unknown, Record<string, string>?]> {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://shop.invalid').pathname;
    } catch {
      throw new HttpError(400, 'bad_url', 'the request URL cannot be parsed');
    }
    const matching = routes.filter((r) => r.path.test(path));
    if (matching.length === 0) throw new HttpError(404, 'not_found', `no route for ${path}`);
    const route = matching.find((r) => r.method === req.method);
    if (!route) {
      const allow = matching.map((r) => r.method).join(', ');
      throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${allow}`, { allow });
    }
    return route.handler(req, route.path.exec(path)!.slice(1));
  }

  const afterResponse = delayed.middleware();
  return (req, res) => {
    const started = performance.now();
    afterResponse(req, res, () => {
      void handle(req)
        .catch((err: unknown) => toErrorResponse(err))
        .then(([status, body, headers]) => {
          const entry = { method: req.method ?? '?', path: (req.url ?? '/').split('?')[0]!, status, ms: performance.now() - started };
          // Runs once the response has gone out: the client never waits for the
          // log. GET /stats is polled by monitors (and the demo): not logged.
          if (entry.path !== '/stats') delayed.doLater(logRequest, timeline, entry);
          send(res, status, body, headers);
        });
    });
  };
}

function logRequest(timeline: Timeline, e: { method: string; path: string; status: number; ms: number }): void {
  timeline.note('http', `${e.method} ${e.path} → ${e.status} in ${e.ms.toFixed(1)} ms (logged after the response)`);
}

function toErrorResponse(err: unknown): [number, unknown, Record<string, string>?] {
  const error = (status: number, code: string, message: string, headers?: Record<string, string>): [number, unknown, Record<string, string>?] => [status, { error: { code, message } }, headers];
  if (err instanceof HttpError) return error(err.status, err.code, err.message, err.headers);
  if (err instanceof JobNotFoundError) return error(404, 'not_found', err.message);
  if (err instanceof InvalidJobOptionsError || err instanceof PayloadNotSerializableError) return error(400, 'invalid_request', err.message);
  if (err instanceof StoreConnectionError || err instanceof StoreClosedError) return error(503, 'unavailable', 'the job store is unavailable; try again', { 'retry-after': '1' });
  console.error('unexpected error while handling a request', err);
  return error(500, 'internal_error', 'something went wrong on our side');
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store', ...headers });
  res.end(json);
}

function jobView(job: JobRecord | null) {
  if (!job) return null;
  return { id: job.id, type: job.type, queue: job.queueName, status: job.status, priority: job.priority, attempts: job.attemptNumber, maxAttempts: job.maxAttempts, error: job.errorMessage, startAt: job.startAt?.toISOString() ?? null, endedAt: job.endedAt?.toISOString() ?? null };
}

// ----- input -------------------------------------------------------------------

async function readJson(req: IncomingMessage): Promise<unknown> {
  return parseJson(await readBody(req, true));
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, 'malformed_json', 'the body is not valid JSON');
  }
}

function readBody(req: IncomingMessage, json: boolean): Promise<Buffer> {
  if (json && !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    return Promise.reject(new HttpError(415, 'unsupported_media_type', 'send the body as application/json'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume(); // drain the rest so the 413 can be read by the client
        reject(new HttpError(413, 'too_large', `the body is over ${MAX_BODY_BYTES} bytes`, { connection: 'close' }));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function validSignature(secret: string, raw: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const given = Buffer.from(header.slice(7), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function invalid(field: string, problem: string): HttpError {
  return new HttpError(400, 'invalid_request', `${field} ${problem}`);
}

/** A plain object with only the known keys: a typo is an error, not a silent default. */
function fields(v: unknown, where: string, allowed: readonly string[]): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid(where, 'must be a JSON object');
  const unknown = Object.keys(v).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw invalid(where, `has unknown field(s) ${unknown.join(', ')}; expected ${allowed.join(', ')}`);
  return v as Record<string, unknown>;
}

function text(v: unknown, field: string, pattern: RegExp, expected: string): string {
  if (typeof v !== 'string' || !pattern.test(v)) throw invalid(field, `must be ${expected}`);
  return v;
}

function integer(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(field, `must be an integer from ${min} to ${max}`);
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) throw invalid(field, `must be one of ${values.join(', ')}`);
  return v as T;
}
