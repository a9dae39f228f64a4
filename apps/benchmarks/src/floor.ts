/**
 * Round-trip floors on this machine, for reading the Redis results: how fast can
 * any client go that makes one round trip per call, and how fast do the queues go?
 *
 *   pnpm bench:floor            (JQ_REDIS_URL, default redis://127.0.0.1:6379, db 14)
 *
 * 1. One call at a time, each awaited (the "serial enqueue" scenario): a bare
 *    socket PING (node:net, no client library), ioredis PING, then each queue's
 *    enqueue. Rounds alternate the order; medians of the rounds.
 * 2. Hand-off at idle (the "pickup" scenario): one connection blocked in BLPOP, a
 *    second LPUSHes, 4 times a second; time from LPUSH written to BLPOP answered.
 *    This is the least any Redis queue's pickup can cost here: processes that idle
 *    between jobs wake slowly.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { defineJob } from '@jqjobs/core';
import { RedisStore } from '@jqjobs/store-redis';
import BeeQueue from 'bee-queue';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { redisBaseUrl } from './services.ts';

const DB = 14;
const N = Number(process.env['FLOOR_N'] ?? 3000);
const ROUNDS = Number(process.env['FLOOR_ROUNDS'] ?? 5);
const base = new URL(redisBaseUrl());
const host = base.hostname;
const port = Number(base.port || 6379);
const url = `redis://${host}:${port}/${DB}`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function encode(...args: string[]): Buffer {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
}

/** A socket that resolves one pending call per reply chunk: enough for PING/BLPOP/LPUSH one at a time. */
async function rawConnection(): Promise<{ call: (cmd: Buffer) => Promise<void>; close: () => void; socket: net.Socket }> {
  const socket = net.connect(port, host);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  await new Promise<void>((resolve) => {
    socket.once('data', () => resolve());
    socket.write(encode('SELECT', String(DB)));
  });
  let pending: (() => void) | null = null;
  socket.on('data', () => {
    const p = pending;
    pending = null;
    p?.();
  });
  return {
    socket,
    call: (cmd) =>
      new Promise<void>((resolve) => {
        pending = resolve;
        socket.write(cmd);
      }),
    close: () => socket.destroy(),
  };
}

async function rate(fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 200; i++) await fn(-1 - i);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await fn(i);
  return N / ((performance.now() - t0) / 1000);
}

async function serial(): Promise<Map<string, number[]>> {
  const raw = await rawConnection();
  const ping = encode('PING');
  const io = new Redis(url);
  const noop = defineJob<{ i: number; t: number }>({ name: 'floor-noop', run: () => {} });
  const store = new RedisStore({ url }, { prefix: 'floor', logger: 'silent' });
  const bull = new Queue('floor-bull', { connection: { host, port, db: DB } });
  await bull.waitUntilReady();
  const bee = new BeeQueue('floor-bee', { redis: { host, port, db: DB }, isWorker: false, getEvents: false });
  await bee.ready();
  const cases: [string, (i: number) => Promise<unknown>][] = [
    ['socket PING (node:net)', () => raw.call(ping)],
    ['ioredis PING', () => io.ping()],
    ['JQJobs RedisStore.enqueue', (i) => store.enqueue(noop, { i, t: performance.now() })],
    ['BullMQ Queue.add', (i) => bull.add('noop', { i, t: performance.now() })],
    ['Bee-Queue job.save', (i) => bee.createJob({ i, t: performance.now() }).save()],
  ];
  const out = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? cases : [...cases].reverse();
      for (const [name, fn] of order) out.get(name)!.push(await rate(fn));
      process.stderr.write(`serial round ${round + 1}/${ROUNDS}\n`);
    }
  } finally {
    raw.close();
    await Promise.all([store.close(), bull.close(), bee.close()]);
    await io.flushdb();
    io.disconnect();
  }
  return out;
}

async function handoff(samples = 80): Promise<number[]> {
  const blocked = await rawConnection();
  const pusher = await rawConnection();
  const key = `floor-handoff-${process.pid}`;
  const lat: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const answered = blocked.call(encode('BLPOP', key, '5'));
      await new Promise((r) => setTimeout(r, 250));
      const t0 = performance.now();
      void pusher.call(encode('LPUSH', key, 'x'));
      await answered;
      lat.push(performance.now() - t0);
    }
  } finally {
    blocked.close();
    pusher.close();
  }
  return lat;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main(): Promise<void> {
  console.log(`Round-trip floors · Redis at ${host}:${port} db ${DB} · Node ${process.version} · ${ROUNDS} rounds of ${N} calls\n`);
  const s = await serial();
  const bull = median(s.get('BullMQ Queue.add')!);
  console.log('One call at a time (calls/s, median of rounds; × BullMQ)');
  for (const [name, xs] of s) {
    const m = median(xs);
    console.log(`  ${name.padEnd(28)} ${fmt(m).padStart(7)}   ${fmt(m / bull, 2)}×   rounds: ${xs.map((x) => fmt(x)).join(', ')}`);
  }
  console.log(`  2 × BullMQ would be ${fmt(2 * bull)}/s: ${fmt((2 * bull) / median(s.get('ioredis PING')!), 2)} × an ioredis PING's rate.\n`);
  const h = await handoff();
  console.log(`Hand-off at idle, BLPOP answered after LPUSH (bare sockets, 4/s): p50 ${fmt(pct(h, 50), 3)} ms, p95 ${fmt(pct(h, 95), 3)} ms, p99 ${fmt(pct(h, 99), 3)} ms`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
