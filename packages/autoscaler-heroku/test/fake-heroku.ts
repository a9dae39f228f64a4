import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  authorization: string | undefined;
  accept: string | undefined;
}

interface Scripted {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * A local stand-in for the Heroku Platform API's formation endpoints, on
 * 127.0.0.1: `GET /apps/:app/formation` and `PATCH /apps/:app/formation`
 * with `{ updates: [{ type, quantity }] }`. Tests script failures and hold
 * requests to play a slow API.
 */
export class FakeHeroku {
  readonly app: string;
  readonly formation = new Map<string, number>();
  readonly requests: RecordedRequest[] = [];
  rateLimitRemaining = 4_000;
  private readonly scripts = new Map<string, Scripted[]>();
  private readonly holds = new Map<string, Array<() => void>>();
  private readonly server = createServer((req, res) => void this.handle(req, res));
  url = '';

  constructor(app = 'my-app', formation: Record<string, number> = {}) {
    this.app = app;
    for (const [t, q] of Object.entries(formation)) this.formation.set(t, q);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const list of this.holds.values()) for (const release of list) release();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The next `method` request gets this answer instead of the real one. */
  failNext(method: 'GET' | 'PATCH', status: number, body: unknown = { id: 'error', message: 'scripted' }, headers?: Record<string, string>): void {
    const list = this.scripts.get(method) ?? [];
    list.push({ status, body, ...(headers ? { headers } : {}) });
    this.scripts.set(method, list);
  }

  /** The next `method` request waits (unanswered) until the returned function is called. */
  holdNext(method: 'GET' | 'PATCH'): () => void {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const list = this.holds.get(method) ?? [];
    list.push(() => release());
    this.holds.set(method, list);
    this.gates.set(method, [...(this.gates.get(method) ?? []), gate]);
    return () => release();
  }
  private readonly gates = new Map<string, Promise<void>[]>();

  count(method: string): number {
    return this.requests.filter((r) => r.method === method).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const body: unknown = raw ? JSON.parse(raw) : null;
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: req.url ?? '', body, authorization: req.headers.authorization, accept: req.headers.accept });
    const gate = this.gates.get(method)?.shift();
    if (gate) await gate;
    const headers = { 'content-type': 'application/json', 'ratelimit-remaining': String(this.rateLimitRemaining), 'request-id': `req-${this.requests.length}` };
    const scripted = this.scripts.get(method)?.shift();
    if (scripted) {
      res.writeHead(scripted.status, { ...headers, ...scripted.headers });
      res.end(JSON.stringify(scripted.body));
      return;
    }
    if (req.url !== `/apps/${this.app}/formation`) {
      res.writeHead(404, headers);
      res.end(JSON.stringify({ id: 'not_found', message: `Couldn't find that app.` }));
      return;
    }
    if (method === 'PATCH') {
      const updates = (body as { updates?: Array<{ type: string; quantity: number }> } | null)?.updates ?? [];
      for (const u of updates) {
        if (!this.formation.has(u.type)) {
          res.writeHead(404, headers);
          res.end(JSON.stringify({ id: 'not_found', message: `Couldn't find that process type (${u.type}).` }));
          return;
        }
      }
      for (const u of updates) this.formation.set(u.type, u.quantity);
    }
    res.writeHead(200, headers);
    res.end(JSON.stringify([...this.formation].map(([type, quantity]) => ({ app: { name: this.app }, type, quantity, size: 'standard-1X', command: `node ${type}.js` }))));
  }
}
