// Acceptance for issue 6: real `jqjobs worker` processes against a real
// PostgreSQL store (signals, memory preflight, priority, a killed worker).
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useWorkerFixture } from './helpers/fixture.ts';
import { type Child, spawnCli } from './helpers/spawn.ts';

const jobsModule = fileURLToPath(new URL('./fixtures/jobs.ts', import.meta.url));
const fx = useWorkerFixture('signals');

function worker(...extra: string[]): Child {
  const child = spawnCli(['worker', '--store', fx.db.url, '--jobs', jobsModule, '--no-jitter', '--log-format', 'json', ...extra]);
  fx.children.add(child);
  return child;
}

const jobStarted = (id: string) => (r: Record<string, unknown>) => r.msg === 'job started' && r.jobId === id;
const keep = { deleteOnComplete: false } as const;

describe('jqjobs worker signals (PostgreSQL)', () => {
  it('SIGTERM during a 2 s job with a 5 s graceful timeout: the job completes, the next stays queued, exit 0', async () => {
    const first = await fx.db.store.enqueue('sleep', { ms: 2000 }, keep);
    const second = await fx.db.store.enqueue('sleep', { ms: 10 }, keep);
    const child = worker('--graceful-shutdown-timeout', '5');
    await child.waitForLog(jobStarted(first.id));
    child.proc.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
    expect(await fx.db.store.get(first.id)).toMatchObject({ status: 'completed', attemptNumber: 1 });
    expect(await fx.db.store.get(second.id)).toMatchObject({ status: 'queued', attemptNumber: 0 });
  });

  it('SIGTERM during a 30 s job with a 1 s graceful timeout: exit 3 within about 2 s, job queued with maxAttempts + 1', async () => {
    const job = await fx.db.store.enqueue('sleep', { ms: 30_000 }, { ...keep, maxAttempts: 1 });
    const child = worker('--graceful-shutdown-timeout', '1');
    await child.waitForLog(jobStarted(job.id));
    const t0 = Date.now();
    child.proc.kill('SIGTERM');
    expect((await child.exited).code).toBe(3);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await fx.db.store.get(job.id)).toMatchObject({ status: 'queued', attemptNumber: 1, maxAttempts: 2 });
  });

  it('SIGINT twice: immediate stop, exit 3, job retried with mulligan', async () => {
    const job = await fx.db.store.enqueue('sleep', { ms: 30_000 }, { ...keep, maxAttempts: 3 });
    const child = worker('--graceful-shutdown-timeout', '60');
    await child.waitForLog(jobStarted(job.id));
    child.proc.kill('SIGINT');
    await child.waitForLog((r) => typeof r.msg === 'string' && r.msg.includes('send SIGINT again'));
    const t0 = Date.now();
    child.proc.kill('SIGINT');
    expect((await child.exited).code).toBe(3);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await fx.db.store.get(job.id)).toMatchObject({ status: 'queued', attemptNumber: 1, maxAttempts: 4 });
  });

  it('SIGHUP: graceful stop, the in-flight job completes, exit 0', async () => {
    const first = await fx.db.store.enqueue('sleep', { ms: 1000 }, keep);
    const second = await fx.db.store.enqueue('sleep', { ms: 10 }, keep);
    const child = worker();
    await child.waitForLog(jobStarted(first.id));
    child.proc.kill('SIGHUP');
    expect((await child.exited).code).toBe(0);
    expect(await fx.db.store.get(first.id)).toMatchObject({ status: 'completed' });
    expect(await fx.db.store.get(second.id)).toMatchObject({ status: 'queued', attemptNumber: 0 });
  });
});

describe('jqjobs worker process settings (PostgreSQL)', () => {
  it('guaranteeMemoryForJob above the heap limit: exit 1 before taking a job, the job untouched', async () => {
    const job = await fx.db.store.enqueue('sleep', { ms: 10 }, keep);
    const child = worker('--guarantee-memory-for-job', '64GB');
    expect((await child.exited).code).toBe(1);
    expect(await fx.db.store.get(job.id)).toEqual(withoutCoalesced(job));
    expect(child.logs.some((r) => r.msg === 'job started')).toBe(false);
  });

  it('--adjust-priority 10: the worker process runs at niceness 10', async () => {
    const child = worker('--adjust-priority', '10');
    const started = await child.waitForLog((r) => r.msg === 'worker started');
    expect(started.workerId).toEqual(expect.stringContaining(`:${child.pid}:`));
    expect(os.getPriority(child.pid)).toBe(10);
    child.proc.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
  });

  it('SIGKILL mid-job: another worker takes the job after the lease expires and completes it exactly once', async () => {
    const release = path.join(fx.dir, 'release-kill');
    const out = path.join(fx.dir, 'out-kill');
    writeFileSync(out, '');
    const job = await fx.db.store.enqueue('block', { release, out }, keep);
    const lease = ['--heartbeat-seconds', '1', '--detect-hung-jobs-every', '1'];
    const first = worker(...lease);
    await first.waitForLog(jobStarted(job.id));
    first.proc.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(await fx.db.store.get(job.id)).toMatchObject({ status: 'running', attemptNumber: 1 });
    writeFileSync(release, '');
    const second = worker(...lease);
    await second.waitForLog((r) => r.msg === 'job completed' && r.jobId === job.id, 30_000);
    second.proc.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(`${job.id}\n`);
    // Retried with mulligan by hung-job detection, so its own attempts were not used up.
    expect(await fx.db.store.get(job.id)).toMatchObject({ status: 'completed', attemptNumber: 2, maxAttempts: 2 });
  });
});

function withoutCoalesced<T extends { coalesced?: boolean }>(job: T): Omit<T, 'coalesced'> {
  const { coalesced: _c, ...rest } = job;
  return rest;
}
