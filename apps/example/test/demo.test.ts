// `pnpm demo` itself, as a new user runs it: the real entry point in a child
// process, which must print the timeline and the summary and exit 0.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { createDatabase, createRedisPrefix, type Resource } from './helpers.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

function run(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  // The same command as the package's `demo` script.
  const child = spawn(tsx, ['--conditions=jqjobs-source', script, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function expectDemoOutput(r: { code: number | null; stdout: string; stderr: string }, store: string): void {
  expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  for (const word of ['enqueued', 'started', 'retried', 'coalesced', 'waiting', 'webhook', 'completed', 'failed', 'http', 'autoscaler']) {
    expect(r.stdout, word).toMatch(new RegExp(`s  ${word}\\b`));
  }
  expect(r.stdout).toContain(`Summary (`);
  expect(r.stdout).toContain(`${store} store)`);
  expect(r.stdout).toMatch(/jobs +9 created: 8 completed, 1 failed as intended \(sync-payment\), 0 stuck/);
  expect(r.stdout).toContain('Every job ended as intended.');
}

const resources: Resource[] = [];
afterAll(async () => {
  for (const r of resources) await r.drop();
});

it('pnpm demo runs the scenario on the memory store and exits 0', async () => {
  expectDemoOutput(await run('src/demo.ts', [], { JQ_STORE_URL: '' }), 'memory');
}, 60_000);

it('pnpm demo --store postgres://… runs it with a separate worker process', async () => {
  const db = await createDatabase();
  resources.push(db);
  const r = await run('src/demo.ts', ['--store', db.url]);
  expectDemoOutput(r, 'postgres');
  expect(r.stdout).toMatch(/worker process \d+ started/);
}, 90_000);

it('pnpm demo --store redis://… runs it with a separate worker process', async () => {
  const prefix = await createRedisPrefix();
  resources.push(prefix);
  const r = await run('src/demo.ts', ['--store', prefix.url]);
  expectDemoOutput(r, 'redis');
  expect(r.stdout).toMatch(/worker process \d+ started/);
}, 90_000);

it('worker.ts refuses the memory store, whose jobs no other process can see', async () => {
  const r = await run('src/worker.ts', [], { JQ_STORE_URL: 'memory', PAYMENT_PROVIDER_URL: 'http://127.0.0.1:9' });
  expect(r.code).toBe(64);
  expect(r.stderr).toContain('needs a shared store');
}, 30_000);
