/** Several real processes on one jobs table: exclusive claims, coalescing, migrations, and a SIGKILLed worker. */
import { defineJob, Worker } from '@jqjobs/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/index.ts';
import { killAllChildren, spawnChild } from './children.ts';
import { createTestDatabase, eventually, type TestDatabase } from './helpers.ts';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('mp');
});
afterEach(() => killAllChildren());
afterAll(async () => {
  killAllChildren();
  await db?.drop();
});

async function freshStore(table: string): Promise<PostgresStore> {
  const store = new PostgresStore({ connectionString: db.url }, { table, logger: 'error' });
  await store.migrate();
  return store;
}

describe('PostgresStore across processes', () => {
  it('4 worker processes × concurrency 8 over 10,000 jobs: every job runs exactly once, none left', { timeout: 180_000 }, async () => {
    const store = await freshStore('mp_work');
    const record = defineJob<{ i: number }>({ name: 'mp-record', run: () => {} });
    const N = 10_000;
    await store.enqueueMany(Array.from({ length: N }, (_, i) => ({ type: record, payload: { i } })));
    const children = Array.from({ length: 4 }, () => spawnChild('work', { url: db.url, table: 'mp_work', concurrency: 8 }));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const codes = await Promise.all(children.map((c) => c.exited));
    expect(codes, children.map((c) => c.stderr.join('')).join('\n')).toEqual([0, 0, 0, 0]);
    const ran = children.flatMap((c) => (c.lines.find((l) => Array.isArray(l.ran))?.ran as number[]) ?? []);
    const counts = new Map<number, number>();
    for (const i of ran) counts.set(i, (counts.get(i) ?? 0) + 1);
    expect(counts.size).toBe(N);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    // Work was spread over the processes, not done by one.
    expect(children.filter((c) => ((c.lines.find((l) => Array.isArray(l.ran))?.ran as number[]) ?? []).length > 0).length).toBeGreaterThan(1);
    expect(await store.count()).toBe(0);
    await store.close();
  });

  it('4 processes enqueueing the same coalesce ids at once create one job per id', { timeout: 120_000 }, async () => {
    const store = await freshStore('mp_coalesce');
    const ids = Array.from({ length: 50 }, (_, i) => `race:${i}:"quoted";✓`);
    const children = Array.from({ length: 4 }, () => spawnChild('coalesce', { url: db.url, table: 'mp_coalesce', ids }));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const codes = await Promise.all(children.map((c) => c.exited));
    expect(codes, children.map((c) => c.stderr.join('')).join('\n')).toEqual([0, 0, 0, 0]);
    type R = { coalesceId: string; id: string; coalesced: boolean };
    const all = children.flatMap((c) => (c.lines.find((l) => Array.isArray(l.results))?.results as R[]) ?? []);
    expect(all).toHaveLength(4 * ids.length);
    for (const cid of ids) {
      const rs = all.filter((r) => r.coalesceId === cid);
      expect(new Set(rs.map((r) => r.id)).size).toBe(1);
      expect(rs.filter((r) => !r.coalesced)).toHaveLength(1);
    }
    expect(await store.count()).toBe(ids.length);
    await store.close();
  });

  it('4 processes running migrate() at once: one applies, the others find nothing to do', { timeout: 120_000 }, async () => {
    const children = Array.from({ length: 4 }, () => spawnChild('migrate', { url: db.url, schema: 'mp_mig', table: 'jobs' }));
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.go();
    const codes = await Promise.all(children.map((c) => c.exited));
    expect(codes, children.map((c) => c.stderr.join('')).join('\n')).toEqual([0, 0, 0, 0]);
    const applied = children.map((c) => (c.lines.find((l) => Array.isArray(l.applied))?.applied as string[]) ?? []);
    expect(applied.filter((a) => a.length > 0)).toHaveLength(1);
    const store = new PostgresStore({ connectionString: db.url }, { schema: 'mp_mig', logger: 'error' });
    expect(await store.count()).toBe(0);
    expect(await store.migrate()).toEqual([]);
    await store.close();
  });

  it("a worker process killed with SIGKILL mid-job: its job comes back when the lease expires and completes", { timeout: 120_000 }, async () => {
    const store = await freshStore('mp_kill');
    const job = await store.enqueue('mp-hang', { n: 1 }, { maxAttempts: 1 });
    const child = spawnChild('hang', { url: db.url, table: 'mp_kill', heartbeatSeconds: 1 });
    await child.waitFor((l) => l.started === job.id);
    expect((await store.get(job.id)).status).toBe('running');
    child.proc.kill('SIGKILL');
    expect(await child.exited).toBeNull();

    // A surviving worker (here: in this process) sweeps for hung jobs and runs it.
    let ranBy: number | null = null;
    const hang = defineJob({ name: 'mp-hang', run: (_p, ctx) => void (ranBy = ctx.job.attemptNumber) });
    const worker = new Worker(store, { jobs: [hang], enableJitter: false, detectHungJobsEvery: 0.2, wakeupEvery: 0.2, heartbeatSeconds: 1, logger: 'silent' });
    const running = worker.start();
    await eventually(async () => (await store.count()) === 0, 'the killed job to be retried and completed', 60_000);
    worker.stop();
    await running;
    // Retried with mulligan: the kill did not use up its single attempt.
    expect(ranBy).toBe(2);
    await store.close();
  });
});
