// Measures what doLater adds to a request handler, on a real node:http server.
// Usage: pnpm bench [-- --requests 3000 --rounds 5]
//
// 1. In the handler: the time of one doLater call, per request, inside the scope the
//    middleware opened and under an application AsyncLocalStorage (a request id), minus
//    the cost of the timer calls themselves. This is the number the README records.
// 2. After the response: the whole life of a deferred no-op (release at 'finish',
//    enqueue into the MemoryStore, claim, run, settle), amortised over many tasks.
//    It runs off the request path but shares the event loop.
import { AsyncLocalStorage } from 'node:async_hooks';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDelayed } from '../src/index.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const REQUESTS = arg('requests', 3000);
const ROUNDS = arg('rounds', 5);
const TASKS = arg('tasks', 100_000);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
};

const delayed = createDelayed({ logger: 'silent', concurrency: 4, maxQueue: 1_000_000 });
const mw = delayed.middleware();
const requestId = new AsyncLocalStorage<string>();
let sink = 0;
const track = (url: string | undefined): void => {
  sink += url?.length ?? 0;
};

let samples: number[] = [];
const server = http.createServer((req, res) =>
  requestId.run(String(req.headers['x-request-id']), () =>
    mw(req, res, () => {
      const t0 = process.hrtime.bigint();
      const t1 = process.hrtime.bigint();
      delayed.doLater(track, req.url);
      const t2 = process.hrtime.bigint();
      // (t2 - t1) includes one hrtime call; (t1 - t0) is that call alone.
      samples.push(Number(t2 - t1 - (t1 - t0)));
      res.end('ok');
    }),
  ),
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: `/r/${i}`, agent, headers: { 'x-request-id': `req-${i}` } }, (res) => {
        res.resume();
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

async function httpRound(): Promise<number[]> {
  samples = [];
  for (let i = 0; i < REQUESTS; i++) await request(i);
  await delayed.flush();
  return samples;
}

async function lifecycleRound(): Promise<number> {
  const t0 = process.hrtime.bigint();
  await requestId.run('batch', () =>
    delayed.run(() => {
      for (let i = 0; i < TASKS; i++) delayed.doLater(track, 'x');
    }),
  );
  await delayed.flush();
  return Number(process.hrtime.bigint() - t0) / TASKS;
}

await httpRound(); // warm-up: JIT, sockets
const roundMedians: number[] = [];
const all: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const xs = await httpRound();
  roundMedians.push(median(xs));
  all.push(...xs);
}
await lifecycleRound(); // warm-up
const lifecycle: number[] = [];
for (let r = 0; r < ROUNDS; r++) lifecycle.push(await lifecycleRound());

agent.destroy();
await new Promise<void>((resolve) => server.close(() => resolve()));
await delayed.close();

const us = (ns: number): string => (ns / 1000).toFixed(2);
console.log(`doLater in a request handler (${ROUNDS} rounds × ${REQUESTS} requests, node ${process.version})`);
console.log(`  median per round (µs): ${roundMedians.map(us).join('  ')}`);
console.log(`  median ${us(median(roundMedians))} µs   p90 ${us(percentile(all, 0.9))} µs   p99 ${us(percentile(all, 0.99))} µs   (target < 5 µs)`);
console.log(`whole life of a deferred no-op after the response, amortised over ${TASKS} tasks`);
console.log(`  per task (µs): ${lifecycle.map(us).join('  ')}   median ${us(median(lifecycle))}`);
if (sink === 0) console.log('(no work ran?)');
if (median(roundMedians) >= 5000) process.exitCode = 1;
