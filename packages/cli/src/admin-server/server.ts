import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  InvalidArgumentError,
  InvalidStateChangeError,
  InvalidStateError,
  JobLockedError,
  JobNotFoundError,
  JQJobsError,
  type JobDefinition,
  type JobRecord,
  type Logger,
  type LogLevel,
  type Store,
  getJobDefinition,
  isJobStatus,
  resolveLogger,
} from '@jqjobs/core';
import { deleteJob, parseJsonData, restartJob, resolveJob, retryJob } from '../job-actions.ts';
import { AdminAuth, MIN_TOKEN_LENGTH, crossSiteProblem, hostAllowed } from './auth.ts';
import { renderChartSvg } from './chart.ts';
import { StatsSampler } from './history.ts';
import { type ListState, type PageContext, errorPage, jobHref, jobPage, jobsPage, overviewPage, sortStats, unauthorizedPage } from './pages.ts';

/** Options of `startAdminServer`. */
export interface AdminServerOptions {
  store: Store;
  /** The secret every request must present (≥ 16 characters). Generate one with `generateToken()`. */
  token: string;
  /** Interface to bind. Anything but loopback exposes the dashboard to the network. @default '127.0.0.1' */
  host?: string;
  /** Port; 0 picks a free one. @default 8787 */
  port?: number;
  /** Job types for `resolve` (and `cleanup` on delete); types defined in this process are found anyway. */
  jobs?: readonly JobDefinition<never>[];
  /** Shown in the page header instead of the URL, which may hold a password. @default 'store' */
  storeLabel?: string;
  /** How often the throughput history samples `stats()`. @default 10000 */
  sampleIntervalMs?: number;
  /** How often the overview page refreshes its counts in the browser. @default 5000 */
  refreshIntervalMs?: number;
  logger?: Logger | LogLevel;
}

/** A running dashboard. */
export interface AdminServer {
  /** Base URL, e.g. `http://127.0.0.1:8787`. */
  readonly url: string;
  /** The URL to open once in a browser: it sets the session cookie and drops the token from the address bar. */
  readonly loginUrl: string;
  readonly host: string;
  readonly port: number;
  /** Stops the HTTP server and the sampler. Does not close the store (the caller owns it). */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 256 * 1024;
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;
const ACTIONS = new Set(['restart', 'retry', 'delete', 'resolve']);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  nonce: string;
  auth: 'bearer' | 'cookie';
}

/**
 * Starts the dashboard: server-rendered pages over node:http, no framework.
 * Security model: bound to loopback by default; every request, reads included,
 * must carry the token (Bearer header, or the session cookie that visiting
 * `/?token=…` once sets); POSTs must also pass the CSRF checks; every job field
 * goes through one escape function; a strict CSP with per-response nonces backs
 * that up.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { store } = options;
  if (typeof options.token !== 'string' || options.token.length < MIN_TOKEN_LENGTH) {
    throw new InvalidArgumentError(`the admin token must be at least ${MIN_TOKEN_LENGTH} characters`);
  }
  const host = options.host ?? '127.0.0.1';
  const logger = resolveLogger(options.logger ?? 'warn');
  const refreshMs = options.refreshIntervalMs ?? 5000;
  const sampleIntervalMs = options.sampleIntervalMs ?? 10_000;
  const storeLabel = options.storeLabel ?? 'store';
  const sampler = new StatsSampler(store, sampleIntervalMs, logger);

  let auth: AdminAuth | null = null;
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err }, 'dashboard: request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'Internal error');
      else res.destroy();
    });
  });
  // Slow-loris and stuck-client limits; a dashboard has no long requests.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8787, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  auth = new AdminAuth(options.token, port);
  sampler.start();
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const a = auth as AdminAuth;
    if (!hostAllowed(req.headers.host, host, port)) {
      send(res, 403, 'text/plain; charset=utf-8', 'Host not allowed');
      return;
    }
    // The base is a placeholder: only path and query are used, and the Host header was checked above.
    const reqUrl = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const nonce = randomBytes(16).toString('base64');

    // One-time login link: trade the token in the query for a cookie, then drop it from the address bar.
    const queryToken = reqUrl.searchParams.get('token');
    if (queryToken !== null && req.method === 'GET') {
      if (!a.checkToken(queryToken)) return unauthorized(res, nonce);
      reqUrl.searchParams.delete('token');
      // One leading slash only: `//host` in Location would send the browser to another site.
      const target = `/${reqUrl.pathname.replace(/^[/\\]+/, '')}` + (reqUrl.searchParams.size ? `?${reqUrl.searchParams.toString()}` : '');
      send(res, 303, 'text/plain; charset=utf-8', 'Signed in', { Location: target, 'Set-Cookie': a.setCookieHeader() });
      return;
    }
    const how = a.authenticate(req);
    if (how === null) return unauthorized(res, nonce);
    const r: Request = { req, res, url: reqUrl, nonce, auth: how };
    try {
      if (req.method === 'GET') await routeGet(r);
      else if (req.method === 'POST') await routePost(r);
      else {
        send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed', { Allow: 'GET, POST' });
      }
    } catch (err) {
      fail(r, err);
    }
  }

  function ctx(r: Request): PageContext {
    return { nonce: r.nonce, csrf: (auth as AdminAuth).csrfToken, storeLabel };
  }

  async function routeGet(r: Request): Promise<void> {
    const path = r.url.pathname;
    const done = r.url.searchParams.get('done');
    if (path === '/') {
      const stats = await store.stats();
      const n = r.url.searchParams.get('retried');
      const hungRetried = n !== null && /^\d{1,9}$/.test(n) ? Number(n) : null;
      sendHtml(r, 200, overviewPage(ctx(r), stats, { refreshMs, done, hungRetried, sampleIntervalMs }));
      return;
    }
    if (path === '/api/stats') {
      const stats = sortStats(await store.stats());
      sendJson(r.res, 200, { generatedAt: new Date().toISOString(), queues: stats });
      return;
    }
    if (path === '/chart.svg') {
      send(r.res, 200, 'image/svg+xml; charset=utf-8', renderChartSvg(sampler.buckets(), sampler.since()).value, {
        'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
      });
      return;
    }
    if (path === '/jobs' || path === '/api/jobs') {
      const state = listState(r.url);
      const filter = { ...(state.queue ? { queueName: state.queue } : {}), ...(state.status ? { status: state.status } : {}) };
      const [jobs, total, stats] = await Promise.all([store.jobs({ ...filter, limit: state.limit, offset: state.offset }), store.count(filter), path === '/jobs' ? store.stats() : Promise.resolve([])]);
      if (path === '/api/jobs') sendJson(r.res, 200, { total, offset: state.offset, limit: state.limit, jobs });
      else
        sendHtml(
          r,
          200,
          jobsPage(
            ctx(r),
            jobs,
            total,
            state,
            stats.map((s) => s.queueName),
            done,
          ),
        );
      return;
    }
    const m = /^\/(api\/)?jobs\/([^/]+)$/.exec(path);
    if (m?.[2] !== undefined) {
      const id = decodeId(m[2]);
      const job = await store.get(id);
      if (m[1]) {
        sendJson(r.res, 200, { job });
        return;
      }
      const def = findDefinition(job.type);
      sendHtml(r, 200, jobPage(ctx(r), job, { description: describe(job, def), done, canResolve: def?.resolveWaitAsync !== undefined }));
      return;
    }
    if (path === '/favicon.ico') {
      r.res.writeHead(204, securityHeaders(r.nonce)).end();
      return;
    }
    throw new HttpError(404, `No page at ${path}`);
  }

  async function routePost(r: Request): Promise<void> {
    const problem = crossSiteProblem(r.req, r.auth);
    if (problem) throw new HttpError(403, `Refused: ${problem}`);
    const form = await readForm(r.req);
    // A Bearer header cannot be attached by a cross-site page (that needs a CORS preflight this server never grants), so it stands in for the CSRF field.
    if (r.auth === 'cookie' && !(auth as AdminAuth).checkCsrf(form.get('_csrf') ?? r.req.headers['x-csrf-token']?.toString())) {
      throw new HttpError(403, 'Refused: missing or wrong CSRF token (reload the page and try again)');
    }
    const path = r.url.pathname;
    if (path === '/actions/detect-hung') {
      const n = await store.detectHungJobs();
      return afterAction(r, `/?done=detect-hung&retried=${n}`, { retried: n });
    }
    const m = /^\/jobs\/([^/]+)\/([a-z-]+)$/.exec(path);
    if (!m?.[1] || !m[2] || !ACTIONS.has(m[2])) throw new HttpError(404, `No action at ${path}`);
    const id = decodeId(m[1]);
    const action = m[2];
    switch (action) {
      case 'restart': {
        const job = await restartJob(store, id);
        return afterAction(r, `${jobHref(id)}?done=restarted`, { job });
      }
      case 'retry': {
        const job = await retryJob(store, id);
        return afterAction(r, `${jobHref(id)}?done=retried`, { job });
      }
      case 'delete': {
        await deleteJob(store, id);
        return afterAction(r, '/jobs?done=deleted', { deleted: id });
      }
      default: {
        const text = form.get('data');
        if (text === undefined) throw new InvalidArgumentError('the "data" field (JSON) is required');
        const data = parseJsonData(text, 'data');
        const disposition = await resolveJob(store, id, data, {
          ...(options.jobs ? { jobs: options.jobs } : {}),
          convertExceptionToFailure: form.get('convertExceptionToFailure') === '1',
        });
        return afterAction(r, `${jobHref(id)}?done=resolved`, { disposition });
      }
    }
  }

  function afterAction(r: Request, location: string, result: Record<string, unknown>): void {
    if (wantsJson(r.req)) sendJson(r.res, 200, { ok: true, ...result });
    else send(r.res, 303, 'text/plain; charset=utf-8', 'Done', { Location: location });
  }

  function findDefinition(type: string): JobDefinition<unknown> | undefined {
    return (options.jobs?.find((d) => d.name === type) as JobDefinition<unknown> | undefined) ?? getJobDefinition(type);
  }

  function fail(r: Request, err: unknown): void {
    const status = statusOf(err);
    const message = err instanceof Error ? err.message : String(err);
    if (status >= 500) logger.error({ err }, 'dashboard: request failed');
    if (wantsJson(r.req) || r.url.pathname.startsWith('/api/')) {
      sendJson(r.res, status, { ok: false, error: message, code: err instanceof JQJobsError ? err.code : undefined });
      return;
    }
    const m = /^\/jobs\/([^/]+)/.exec(r.url.pathname);
    const back = status === 404 ? '/jobs' : m?.[1] !== undefined ? `/jobs/${m[1]}` : '/';
    sendHtml(r, status, errorPage(ctx(r), status, TITLES[status] ?? 'Error', message, back));
  }

  return {
    url,
    loginUrl: `${url}/?token=${encodeURIComponent(options.token)}`,
    host,
    port,
    async close() {
      await sampler.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

const TITLES: Record<number, string> = { 400: 'Bad request', 403: 'Forbidden', 404: 'Not found', 409: 'Conflict', 413: 'Too large', 415: 'Unsupported media type', 503: 'Store unavailable', 500: 'Internal error' };

function statusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  if (err instanceof JobNotFoundError) return 404;
  if (err instanceof InvalidStateError || err instanceof InvalidStateChangeError || err instanceof JobLockedError) return 409;
  if (err instanceof JQJobsError) return err.code === 'JQ_STORE_CONNECTION' ? 503 : err.code === 'JQ_STORE_CLOSED' ? 503 : 400;
  return 500;
}

function describe(job: JobRecord, def: JobDefinition<unknown> | undefined): string | null {
  if (!def?.description) return null;
  try {
    return def.description(job.payload);
  } catch {
    // A description is a nicety; a throwing one must not break the page.
    return null;
  }
}

function decodeId(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'Malformed job id in the URL');
  }
}

function listState(url: URL): ListState {
  const queue = url.searchParams.get('queue') || undefined;
  const statusParam = url.searchParams.get('status') || undefined;
  if (statusParam !== undefined && !isJobStatus(statusParam)) throw new HttpError(400, `Unknown status ${JSON.stringify(statusParam)}`);
  const limit = intParam(url, 'limit', DEFAULT_PAGE_SIZE);
  const offset = intParam(url, 'offset', 0);
  if (limit < 1 || limit > MAX_PAGE_SIZE) throw new HttpError(400, `limit must be between 1 and ${MAX_PAGE_SIZE}`);
  return { queue, status: statusParam, limit, offset };
}

function intParam(url: URL, name: string, fallback: number): number {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return fallback;
  if (!/^\d{1,9}$/.test(v)) throw new HttpError(400, `${name} must be a non-negative integer`);
  return Number(v);
}

function wantsJson(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('application/json');
}

async function readForm(req: IncomingMessage): Promise<Map<string, string>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `Request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  const out = new Map<string, string>();
  if (text === '') return out;
  if (type === 'application/json') {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'Request body is not valid JSON');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'Request body must be a JSON object');
    for (const [k, v] of Object.entries(body)) {
      // `data` is the resolver's input and stays JSON text, like the form field.
      if (k === 'data') out.set(k, JSON.stringify(v));
      else if (typeof v === 'string') out.set(k, v);
      else if (typeof v === 'boolean') out.set(k, v ? '1' : '0');
    }
    return out;
  }
  if (type !== 'application/x-www-form-urlencoded') throw new HttpError(415, 'Send application/x-www-form-urlencoded or application/json');
  for (const [k, v] of new URLSearchParams(text)) out.set(k, v);
  return out;
}

function securityHeaders(nonce: string): Record<string, string> {
  return {
    'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    // Not no-referrer: under that policy Chromium sends `Origin: null` on same-origin form posts, which the CSRF check must refuse.
    'Referrer-Policy': 'same-origin',
    'Cache-Control': 'no-store',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...securityHeaders(randomBytes(16).toString('base64')), 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendHtml(r: Request, status: number, body: string): void {
  r.res.writeHead(status, { ...securityHeaders(r.nonce), 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  r.res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  // `<` escaped so the JSON stays inert even if something renders it as HTML.
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value).replace(/</g, '\\u003c'));
}

function unauthorized(res: ServerResponse, nonce: string): void {
  const body = unauthorizedPage(nonce);
  res.writeHead(401, { ...securityHeaders(nonce), 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'WWW-Authenticate': 'Bearer realm="jqjobs-admin"' });
  res.end(body);
}
