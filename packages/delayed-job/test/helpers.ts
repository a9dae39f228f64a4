import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A promise with its resolve function, for causality checks without timers. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

/** A real node:http server on 127.0.0.1, on a free port. */
export async function listen(handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** GET with a fresh connection; resolves with status and the whole body. */
export function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * Counts finished responses. Track a response after the scope middleware saw it:
 * listeners run in order, so when this one fires the scope has handed its work over.
 */
export function finishes(): { track(res: http.ServerResponse): void; reached(n: number): Promise<void> } {
  let count = 0;
  let waiters: { n: number; resolve: () => void }[] = [];
  return {
    track(res) {
      res.once('finish', () => {
        count++;
        const ready = waiters.filter((w) => w.n <= count);
        waiters = waiters.filter((w) => w.n > count);
        for (const w of ready) w.resolve();
      });
    },
    reached(n) {
      if (count >= n) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
  };
}
