/**
 * PostgreSQL restarts mid-run. Runs a private, throwaway cluster (initdb into a
 * temporary directory, its own port) so the shared server other tests use is
 * never touched; the cluster is stopped and deleted afterwards.
 */
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defineJob, StoreConnectionError, Worker } from '@jqjobs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/index.ts';
import { eventually, sleep } from './helpers.ts';

const BIN = '/usr/lib/postgresql/15/bin';
const run = promisify(execFile);

let dir = '';
let port = 0;
let started = false;

/** Runs a PostgreSQL binary as the postgres user (initdb and pg_ctl refuse root). */
async function asPostgres(bin: string, args: string[]): Promise<void> {
  const isRoot = process.getuid?.() === 0;
  await run(isRoot ? 'runuser' : `${BIN}/${bin}`, isRoot ? ['-u', 'postgres', '--', `${BIN}/${bin}`, ...args] : args, { timeout: 120_000 });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
}

// Always with -l: a postmaster started without a log file keeps our stdout pipe open.
const pgCtl = (...args: string[]) => asPostgres('pg_ctl', ['-D', dir, '-w', '-t', '60', '-l', join(dir, 'server.log'), ...args]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jq-pgfault-'));
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await asPostgres('initdb', ['-D', dir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  port = await freePort();
  await pgCtl('-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start');
  started = true;
}, 180_000);

afterAll(async () => {
  if (started) await pgCtl('-m', 'immediate', 'stop').catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('PostgresStore through a database restart', () => {
  it('every enqueued job completes, none is lost, and idle workers wake again afterwards', { timeout: 240_000 }, async () => {
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const store = new PostgresStore({ connectionString: url, connectionTimeoutMillis: 2_000 }, { logger: 'silent' });
    await store.migrate();
    const ran = new Map<number, number>();
    const t = defineJob<{ i: number }>({
      name: 'fault-job',
      run: async (p) => {
        await sleep(2);
        ran.set(p.i, (ran.get(p.i) ?? 0) + 1);
      },
    });
    await store.enqueueMany(Array.from({ length: 2000 }, (_, i) => ({ type: t, payload: { i } })));
    const enqueued = new Set<number>(Array.from({ length: 2000 }, (_, i) => i));

    // Polls only once an hour: after the restart, new work can only arrive through claims and the re-established LISTEN.
    const worker = new Worker(store, { jobs: [t], concurrency: 8, heartbeatSeconds: 1, detectHungJobsEvery: 1, wakeupEvery: 3600, enableJitter: false, logger: 'silent' });
    const errors: unknown[] = [];
    worker.on('worker:error', (e) => errors.push(e));
    const working = worker.start();

    // A producer keeps enqueueing through the restart; a job counts as enqueued once its promise resolved.
    let producerErrors = 0;
    const producing = (async () => {
      for (let i = 2000; i < 2600; i++) {
        for (;;) {
          try {
            await store.enqueue(t, { i });
            enqueued.add(i);
            break;
          } catch (err) {
            expect(err).toBeInstanceOf(StoreConnectionError);
            producerErrors++;
            await sleep(50);
          }
        }
        await sleep(1);
      }
    })();

    await eventually(() => ran.size >= 500, 'some jobs to run before the restart', 60_000);
    await pgCtl('-m', 'fast', 'restart');
    await producing;
    await eventually(async () => [...enqueued].every((i) => ran.has(i)), 'every enqueued job to run', 120_000);
    await eventually(async () => (await store.count()) === 0, 'the table to be empty', 60_000);

    // The restart was noticed, reported as connection errors with their cause, and survived.
    expect(errors.length + producerErrors).toBeGreaterThan(0);
    const first = errors.find((e) => e instanceof StoreConnectionError) as StoreConnectionError | undefined;
    if (first) expect(first.cause).toBeInstanceOf(Error);

    // The worker is idle now (hour-long poll); a new job wakes it through the re-established LISTEN connection.
    await store.enqueue(t, { i: 9999 });
    await eventually(() => ran.has(9999), 'a job enqueued after the restart to start', 60_000);

    worker.stop();
    await working;
    await store.close();
  });
});
