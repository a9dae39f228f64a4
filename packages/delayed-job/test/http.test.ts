import { AsyncLocalStorage } from 'node:async_hooks';
import { once } from 'node:events';
import http from 'node:http';
import { Worker as Thread } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createDelayed, type Delayed, TaskTimeoutError } from '../src/index.ts';
import { deferred, finishes, get, listen, type TestServer } from './helpers.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function instance(options: Parameters<typeof createDelayed>[0] = {}): Delayed {
  const d = createDelayed({ logger: 'silent', ...options });
  cleanups.push(() => d.close({ timeoutMs: 1000 }));
  return d;
}

async function server(handler: http.RequestListener): Promise<TestServer> {
  const s = await listen(handler);
  cleanups.push(() => s.close());
  return s;
}

// An HTTP client on its own thread: it keeps reading while the main thread is blocked.
const CLIENT = `
const { workerData, parentPort } = require('node:worker_threads');
const http = require('node:http');
const flag = new Int32Array(workerData.flag);
http.get(workerData.url, { agent: false }, (res) => {
  let n = 0;
  res.on('data', (c) => { n += c.length; });
  res.on('end', () => { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); parentPort.postMessage(n); });
}).on('error', (e) => parentPort.postMessage('error: ' + e.message));
`;

describe('node:http middleware', () => {
  it('the client has the whole response before the deferred work starts', async () => {
    const d = instance({ concurrency: 1 });
    const mw = d.middleware();
    // Far more than the socket buffers hold: the last bytes leave only while this process runs its event loop.
    const body = 'x'.repeat(8 * 1024 * 1024);
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const events: string[] = [];
    const workDone = deferred();
    const s = await server((req, res) =>
      mw(req, res, () => {
        d.doLater(() => {
          workDone.resolve();
          events.push('work started');
          // Blocks the server's thread. The client can only finish if every byte had already left
          // this process, i.e. the response was complete before the work started.
          events.push(`client ${Atomics.wait(flag, 0, 0, 15_000)}`);
        });
        res.end(body);
      }),
    );
    const client = new Thread(CLIENT, { eval: true, workerData: { url: s.url, flag: flag.buffer } });
    cleanups.push(() => client.terminate());
    const [received] = (await once(client, 'message')) as [number];
    await workDone.promise;
    expect(received).toBe(body.length);
    expect(events[0]).toBe('work started');
    // 'ok': the client finished while the work blocked; 'not-equal': it had finished even before. Never 'timed-out'.
    expect(['client ok', 'client not-equal']).toContain(events[1]);
  });

  it('runs the work when the client disconnects before the response', async () => {
    const d = instance();
    const mw = d.middleware();
    const handled = deferred();
    const ran = deferred<{ finished: boolean }>();
    const events: string[] = [];
    const s = await server((req, res) =>
      mw(req, res, () => {
        d.doLater(() => {
          events.push('work');
          ran.resolve({ finished: res.writableFinished });
        });
        handled.resolve();
        // Never responds: only the client going away ends this request.
      }),
    );
    const req = http.get(s.url, { agent: false });
    req.on('error', () => {});
    await handled.promise;
    await d.flush();
    expect(events).toEqual([]); // held while the request is open
    events.push('client gone');
    req.destroy();
    const result = await ran.promise;
    expect(events).toEqual(['client gone', 'work']);
    expect(result.finished).toBe(false);
  });

  it('a throwing, rejecting or hanging task breaks neither the response nor the other tasks', async () => {
    const errors: unknown[] = [];
    const d = instance({ concurrency: 1, taskTimeoutMs: 300, onError: (err) => errors.push(err) });
    const mw = d.middleware();
    const done: number[] = [];
    const responses = finishes();
    const s = await server((req, res) =>
      mw(req, res, () => {
        responses.track(res);
        const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n'));
        d.doLater(() => {
          throw new Error(`sync ${n}`);
        });
        d.doLater(async () => {
          await Promise.resolve();
          throw new Error(`async ${n}`);
        });
        d.doLater(() => new Promise(() => {})); // never settles
        d.doLater((i: number) => done.push(i), n);
        res.setHeader('content-type', 'text/plain');
        res.end(`ok ${n}`);
      }),
    );
    expect(await get(`${s.url}/?n=1`)).toEqual({ status: 200, body: 'ok 1' });
    await responses.reached(1);
    await d.flush();
    // The server still serves, and the next request's tasks still run.
    expect(await get(`${s.url}/?n=2`)).toEqual({ status: 200, body: 'ok 2' });
    await responses.reached(2);
    await d.flush();
    expect(done).toEqual([1, 2]);
    expect(errors.map((e) => (e instanceof TaskTimeoutError ? 'timeout' : (e as Error).message))).toEqual(['sync 1', 'async 1', 'timeout', 'sync 2', 'async 2', 'timeout']);
  });

  it('a hanging task without a timeout holds one slot only; close() gives up on it and reports it', async () => {
    const drops: string[] = [];
    const d = createDelayed({ logger: 'silent', concurrency: 2, taskTimeoutMs: null, onDrop: (i) => drops.push(`${i.name}:${i.reason}`) });
    const mw = d.middleware();
    const done: number[] = [];
    const allDone = deferred();
    const hangStarted = deferred();
    const s = await server((req, res) =>
      mw(req, res, () => {
        d.doLater(function hang() {
          hangStarted.resolve();
          return new Promise(() => {});
        });
        for (let i = 0; i < 5; i++) d.doLater(() => done.push(i) === 5 && allDone.resolve());
        res.end('ok');
      }),
    );
    expect((await get(s.url)).body).toBe('ok');
    await hangStarted.promise;
    await allDone.promise;
    expect(done).toEqual([0, 1, 2, 3, 4]);
    expect(d.pending).toBe(1);
    expect(await d.close({ timeoutMs: 50 })).toBe(false);
    expect(drops).toEqual(['hang:close-timeout']);
    expect(d.pending).toBe(0);
  });

  it('carries AsyncLocalStorage values from each request into its deferred work', async () => {
    const d = instance({ concurrency: 3 });
    const mw = d.middleware();
    const requestId = new AsyncLocalStorage<string>();
    const seen: string[] = [];
    const responses = finishes();
    const s = await server((req, res) =>
      requestId.run(String(req.headers['x-request-id']), () =>
        mw(req, res, () => {
          responses.track(res);
          d.doLater(async () => {
            const before = requestId.getStore();
            await new Promise((r) => setImmediate(r));
            seen.push(`${before}/${requestId.getStore()}`);
          });
          res.end();
        }),
      ),
    );
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => get(s.url, { 'x-request-id': id })));
    await responses.reached(5);
    await d.flush();
    expect(seen.sort()).toEqual(['a/a', 'b/b', 'c/c', 'd/d', 'e/e']);
  });
});

/** Just enough of Connect/Express: a middleware stack with next() and next(err). */
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, next: (err?: unknown) => void) => void;
type ErrorHandler = (err: unknown, req: http.IncomingMessage, res: http.ServerResponse, next: (err?: unknown) => void) => void;
function connectStyle(stack: Handler[], onError: ErrorHandler): http.RequestListener {
  return (req, res) => {
    let i = 0;
    const next = (err?: unknown): void => {
      if (err !== undefined) return onError(err, req, res, () => {});
      const h = stack[i++];
      if (h) h(req, res, next);
    };
    next();
  };
}

describe('Express/Connect-style stack', () => {
  it('holds work until the response is finished, also on the error path and for work deferred after res.end', async () => {
    const d = instance({ concurrency: 1 });
    const log: string[] = [];
    const responses = finishes();
    const late = deferred();
    const s = await server(
      connectStyle(
        [
          (req, _res, next) => {
            log.push(`before ${req.url}`);
            next();
          },
          d.middleware(),
          (req, res, next) => {
            responses.track(res);
            d.doLater((url: string) => log.push(`work ${url} finished=${res.writableFinished}`), req.url ?? '');
            if (req.url === '/fail') return next(new Error('handler failed'));
            res.end('ok');
            // An async continuation of the handler, after the response: still runs.
            setImmediate(() => {
              d.doLater(() => log.push(`late ${req.url}`));
              late.resolve();
            });
          },
        ],
        (err, _req, res) => {
          res.statusCode = 500;
          res.end((err as Error).message);
        },
      ),
    );
    expect(await get(`${s.url}/ok`)).toEqual({ status: 200, body: 'ok' });
    expect(await get(`${s.url}/fail`)).toEqual({ status: 500, body: 'handler failed' });
    await responses.reached(2);
    await late.promise;
    await d.flush();
    expect(log.filter((l) => l.startsWith('work'))).toEqual(['work /ok finished=true', 'work /fail finished=true']);
    expect(log).toContain('late /ok');
  });

  it('module-level middleware() scopes serve every instance', async () => {
    const { middleware } = await import('../src/index.ts');
    const a = instance();
    const b = instance();
    const ran: string[] = [];
    const gate = deferred();
    const reached = deferred();
    const responses = finishes();
    const s = await server((req, res) =>
      middleware()(req, res, () => {
        responses.track(res);
        a.doLater(() => ran.push('a'));
        b.doLater(() => ran.push('b'));
        reached.resolve();
        void gate.promise.then(() => res.end('ok'));
      }),
    );
    const response = get(s.url);
    await reached.promise;
    await Promise.all([a.flush(), b.flush()]);
    expect(ran).toEqual([]);
    gate.resolve();
    expect((await response).body).toBe('ok');
    await responses.reached(1);
    await Promise.all([a.flush(), b.flush()]);
    expect(ran.sort()).toEqual(['a', 'b']);
  });
});

describe('Fastify-style hooks', () => {
  it('holds work between onRequest and onResponse (plain objects)', async () => {
    const d = instance();
    const ran: string[] = [];
    const request = {};
    const reply = {};
    await new Promise<void>((resolve) =>
      d.onRequest(request, reply, () => {
        d.doLater(() => ran.push('work'));
        resolve();
      }),
    );
    await d.flush();
    expect(ran).toEqual([]);
    // A route with a body: Fastify resumes after parsing from a context that lost the scope; preHandler restores it.
    d.preHandler(request, reply, () => d.doLater(() => ran.push('after body')));
    await d.flush();
    expect(ran).toEqual([]);
    let doneCalled = false;
    d.onResponse(request, reply, () => (doneCalled = true));
    expect(doneCalled).toBe(true);
    await d.flush();
    expect(ran).toEqual(['work', 'after body']);
  });

  it('works on a node:http server, and ends the scope when the client goes away', async () => {
    const d = instance();
    const ran: string[] = [];
    const handled = deferred();
    const responded = deferred();
    const aborted = deferred<boolean>();
    const s = await server((req, res) => {
      const request = { url: req.url };
      const reply = { raw: res };
      d.onRequest(request, reply, () => {
        d.doLater(() => {
          ran.push(`work ${req.url}`);
          if (req.url === '/abort') aborted.resolve(res.writableFinished);
        });
        if (req.url === '/abort') return handled.resolve();
        res.on('finish', () => d.onResponse(request, reply, () => responded.resolve()));
        res.end('ok');
      });
    });
    expect((await get(`${s.url}/ok`)).body).toBe('ok');
    await responded.promise;
    await d.flush();
    expect(ran).toEqual(['work /ok']);
    const req = http.get(`${s.url}/abort`, { agent: false });
    req.on('error', () => {});
    await handled.promise;
    req.destroy();
    expect(await aborted.promise).toBe(false);
    expect(ran).toEqual(['work /ok', 'work /abort']);
  });
});
