// A stand-in for a third-party payment provider, on its own HTTP port. It works
// the way real ones do: a charge request is accepted at once (202) and finished
// later, and the result is POSTed to the shop's webhook, signed with a shared
// secret and re-sent until the shop acknowledges it. Card `tok_declined` is
// declined; any other card succeeds.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PaymentProviderOptions {
  /** Shared secret the webhook bodies are signed with. */
  secret: string;
  /** Where results are delivered; settable later, since the shop's port is known only once it listens. */
  webhookUrl?: string;
  /** How long a charge takes before its result is delivered. @default 300 */
  settleDelayMs?: number;
  /** Called with a line when a delivery is re-sent or given up, for the timeline. */
  onDelivery?: (text: string) => void;
}

export interface PaymentProvider {
  readonly url: string;
  webhookUrl: string | undefined;
  close(): Promise<void>;
}

interface Charge {
  id: string;
  jobId: string;
  status: 'succeeded' | 'declined';
}

export async function startPaymentProvider(options: PaymentProviderOptions): Promise<PaymentProvider> {
  const settleDelayMs = options.settleDelayMs ?? 300;
  const byIdempotencyKey = new Map<string, Charge>();
  const timers = new Set<NodeJS.Timeout>();
  const aborter = new AbortController();
  let seq = 0;
  let closed = false;

  const provider = {
    url: '',
    webhookUrl: options.webhookUrl,
    close,
  };

  const later = (ms: number, fn: () => void) => {
    if (closed) return;
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const deliver = async (charge: Charge, attempt: number): Promise<void> => {
    if (closed) return;
    const body = JSON.stringify({ chargeId: charge.id, jobId: charge.jobId, status: charge.status });
    const signature = `sha256=${createHmac('sha256', options.secret).update(body).digest('hex')}`;
    let outcome: string;
    try {
      if (!provider.webhookUrl) throw new Error('no webhook URL configured');
      const res = await fetch(provider.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-provider-signature': signature },
        body,
        signal: aborter.signal,
      });
      await res.body?.cancel();
      if (res.ok) return;
      // 4xx other than 409 means the shop will never accept it: stop, as providers do.
      if (res.status !== 409 && res.status < 500) {
        options.onDelivery?.(`provider gave up on charge ${charge.id}: webhook answered ${res.status}`);
        return;
      }
      outcome = `answered ${res.status}`;
    } catch (err) {
      if (closed) return;
      outcome = `failed (${err instanceof Error ? err.message : String(err)})`;
    }
    if (attempt >= 8) {
      options.onDelivery?.(`provider gave up on charge ${charge.id} after ${attempt} deliveries`);
      return;
    }
    const delay = Math.min(100 * 2 ** (attempt - 1), 2_000);
    options.onDelivery?.(`provider: webhook for charge ${charge.id} ${outcome}; re-sending in ${delay} ms`);
    later(delay, () => void deliver(charge, attempt + 1));
  };

  const server = http.createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url !== '/charges') return reply(404, { error: 'not found' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let input: { card?: unknown; metadata?: { jobId?: unknown } };
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof input;
      } catch {
        return reply(400, { error: 'malformed JSON' });
      }
      const jobId = input.metadata?.jobId;
      const key = req.headers['idempotency-key'];
      if (typeof jobId !== 'string' || typeof key !== 'string') return reply(400, { error: 'metadata.jobId and an Idempotency-Key are required' });
      // A repeated key gets the same charge; its result is delivered again, so a
      // job retried after a lost webhook still hears back.
      let charge = byIdempotencyKey.get(key);
      if (!charge) {
        charge = { id: `ch_${++seq}_${randomBytes(3).toString('hex')}`, jobId, status: input.card === 'tok_declined' ? 'declined' : 'succeeded' };
        byIdempotencyKey.set(key, charge);
      }
      const c = charge;
      later(settleDelayMs, () => void deliver(c, 1));
      reply(202, { id: c.id, status: 'pending' });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    aborter.abort();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  return provider;
}
