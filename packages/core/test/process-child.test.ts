// runWorkerProcess in real child processes: real signals, real exit codes, module
// tracking for code-change restarts, process priority. The store is a FakeStore in
// the child; what happened to each job is printed by the child on exit.
// The PostgreSQL end-to-end versions are in packages/cli/test.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type Child, killAll, spawnTs } from './fixtures/spawn.ts';

const fixture = fileURLToPath(new URL('./fixtures/worker-process.ts', import.meta.url));
const children = new Set<Child>();
const tmpDirs: string[] = [];

interface Row {
  id: string;
  status: string;
  attemptNumber: number;
  maxAttempts: number;
  errorMessage: string | null;
}
interface Report {
  exitCode: number;
  rows: Row[];
  claims: number;
  closed: boolean;
}

function run(config: object): Child {
  const child = spawnTs(fixture, [JSON.stringify(config)]);
  children.add(child);
  return child;
}

async function finish(child: Child): Promise<{ code: number | null; report: Report; ms: number }> {
  const t0 = Date.now();
  const { code } = await child.exited;
  const line = child.stdout().trim().split('\n').at(-1) ?? '';
  let report: Report;
  try {
    report = JSON.parse(line) as Report;
  } catch {
    throw new Error(`child printed no report (exit ${code}); stderr:\n${child.stderr()}`);
  }
  return { code, report, ms: Date.now() - t0 };
}

const started = (r: Record<string, unknown>) => r.msg === 'job started';
const workerStarted = (r: Record<string, unknown>) => r.msg === 'worker started';

afterEach(() => killAll(children));
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

describe('runWorkerProcess signals (child process)', () => {
  it('SIGTERM: a 2 s job finishes within a 5 s graceful timeout, the next stays queued, exit 0', async () => {
    const child = run({ jobs: [{ type: 'sleep', payload: { ms: 2000 } }, { type: 'sleep', payload: { ms: 10 } }], options: { gracefulShutdownTimeout: 5 } });
    await child.waitForLog(started);
    child.proc.kill('SIGTERM');
    const { code, report } = await finish(child);
    expect(code).toBe(0);
    expect(report.rows.map((r) => [r.status, r.attemptNumber])).toEqual([
      ['completed', 1],
      ['queued', 0],
    ]);
    expect(report.closed).toBe(true);
  });

  it('SIGTERM: a 30 s job outlives a 1 s graceful timeout → retried with mulligan, exit 3 quickly', async () => {
    const child = run({ jobs: [{ type: 'sleep', payload: { ms: 30_000 } }], options: { gracefulShutdownTimeout: 1 } });
    await child.waitForLog(started);
    const t0 = Date.now();
    child.proc.kill('SIGTERM');
    const { code, report } = await finish(child);
    expect(code).toBe(3);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(report.rows[0]).toMatchObject({ status: 'queued', attemptNumber: 1, maxAttempts: 2 });
  });

  it('SIGINT once: finishes the in-flight job and exits 0', async () => {
    const child = run({ jobs: [{ type: 'sleep', payload: { ms: 1500 } }, { type: 'sleep', payload: { ms: 10 } }] });
    await child.waitForLog(started);
    child.proc.kill('SIGINT');
    const { code, report } = await finish(child);
    expect(code).toBe(0);
    expect(report.rows.map((r) => r.status)).toEqual(['completed', 'queued']);
  });

  it('SIGINT twice: the immediate path, job retried with mulligan, exit 3', async () => {
    const child = run({ jobs: [{ type: 'sleep', payload: { ms: 30_000 } }], options: { gracefulShutdownTimeout: 60 } });
    await child.waitForLog(started);
    child.proc.kill('SIGINT');
    await child.waitForLog((r) => typeof r.msg === 'string' && r.msg.includes('send SIGINT again'));
    const t0 = Date.now();
    child.proc.kill('SIGINT');
    const { code, report } = await finish(child);
    expect(code).toBe(3);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(report.rows[0]).toMatchObject({ status: 'queued', attemptNumber: 1, maxAttempts: 2 });
  });

  it('SIGHUP: graceful stop, exit 0', async () => {
    const child = run({ jobs: [{ type: 'sleep', payload: { ms: 1000 } }, { type: 'sleep', payload: { ms: 10 } }], options: { gracefulShutdownTimeout: 0 } });
    await child.waitForLog(started);
    child.proc.kill('SIGHUP');
    const { code, report } = await finish(child);
    expect(code).toBe(0);
    expect(report.rows.map((r) => r.status)).toEqual(['completed', 'queued']);
  });

  it.each(['SIGQUIT', 'SIGABRT'] as const)('%s stops an idle worker with exit 0', async (signal) => {
    const child = run({});
    await child.waitForLog(workerStarted);
    child.proc.kill(signal);
    const { code, report } = await finish(child);
    expect(code).toBe(0);
    expect(report.closed).toBe(true);
  });

  it('an uncaught exception retries the in-flight jobs with mulligan and exits 70', async () => {
    const child = run({ jobs: [{ type: 'sleep', payload: { ms: 30_000 } }, { type: 'crash' }], options: { concurrency: 2 } });
    const { code, report } = await finish(child);
    expect(code).toBe(70);
    expect(report.rows[0]).toMatchObject({ status: 'queued', attemptNumber: 1, maxAttempts: 2 });
    expect(child.stderr()).toContain('boom outside the job');
  });
});

describe('runWorkerProcess process settings (child process)', () => {
  it('exits 1 before taking a job when guaranteeMemoryForJob is above the heap limit', async () => {
    const child = run({ jobs: [{ type: 'sleep', payload: { ms: 10 } }], options: { guaranteeMemoryForJob: 1e15 } });
    const { code, report } = await finish(child);
    expect(code).toBe(1);
    expect(report.claims).toBe(0);
    expect(report.rows[0]).toMatchObject({ status: 'queued', attemptNumber: 0 });
  });

  it('adjustPriority: 10 sets the niceness of the worker process', async () => {
    const child = run({ options: { adjustPriority: 10 } });
    await child.waitForLog(workerStarted);
    expect(os.getPriority(child.pid)).toBe(10);
    child.proc.kill('SIGTERM');
    expect((await finish(child)).code).toBe(0);
  });
});

describe('runWorkerProcess code-change restart (child process)', () => {
  function tmpModule(name: string, source: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'jq-code-'));
    tmpDirs.push(dir);
    const file = path.join(dir, name);
    writeFileSync(file, source);
    return file;
  }

  it.each([
    ['an ES module', 'dep.mjs', 'export const x = 1;\n'],
    ['a CommonJS module', 'dep.cjs', 'exports.x = 1;\n'],
  ])('exits 2 when %s loaded before the runner started changes', async (_label, name, source) => {
    const file = tmpModule(name, source);
    const child = run({ preload: [file], options: { watchInterval: 0.2 } });
    await child.waitForLog(workerStarted);
    appendFileSync(file, '// edited\n');
    const rec = await child.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('source file changed'));
    expect(rec.file).toBe(file);
    expect((await finish(child)).code).toBe(2);
  });

  it('exits 2 when a module imported lazily by a job changes', async () => {
    const file = tmpModule('lazy.mjs', 'export const x = 1;\n');
    const child = run({ jobs: [{ type: 'lazy', payload: { module: file } }], options: { watchInterval: 0.2 } });
    await child.waitForLog((r) => r.msg === 'watching a newly loaded source file' && r.file === file);
    appendFileSync(file, '// edited\n');
    const rec = await child.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('source file changed'));
    expect(rec.file).toBe(file);
    expect((await finish(child)).code).toBe(2);
  });
});
