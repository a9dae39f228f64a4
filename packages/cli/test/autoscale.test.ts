// `jqjobs autoscale --config <file>`: bad input, and a real dry-run process stopped by a signal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { runCli } from '../src/index.ts';
import { spawnCli } from './helpers/spawn.ts';

const config = fileURLToPath(new URL('./fixtures/autoscale-config.ts', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'jq-autoscale-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function buffers() {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => ((out += s), true) },
    stderr: { write: (s: string) => ((err += s), true) },
    out: () => out,
    err: () => err,
  };
}

it.each([
  ['no --config', [], /--config is required/],
  ['a missing file', ['--config', path.join(dir, 'nope.mjs')], /no such config file/],
  ['a config without a default export', ['--config', 'no-default.mjs'], /no default export/],
  ['a config with a bad option', ['--config', 'bad-option.mjs'], /Invalid autoscaler option/],
])('bad input (%s) exits 64 with one line', async (_label, args, message) => {
  writeFileSync(path.join(dir, 'no-default.mjs'), 'export const x = 1;\n');
  writeFileSync(path.join(dir, 'bad-option.mjs'), 'export default { store: {}, scaler: {}, queues: {} };\n');
  const io = buffers();
  const code = await runCli(['autoscale', ...(args as string[])], { stdout: io.stdout, stderr: io.stderr, cwd: dir });
  expect(code).toBe(64);
  expect(io.err()).toMatch(message as RegExp);
  expect(io.err().trim().split('\n')).toHaveLength(1);
});

it('runs a dry-run autoscaler that scales the queue up, and exits 0 on SIGTERM', async () => {
  const child = spawnCli(['autoscale', '--config', config]);
  // 7 pending jobs, linear, capped at 5: the autoscaler's decision log says so.
  const decision = /WILL scale email from 0 to 5/;
  const deadline = Date.now() + 20_000;
  while (!decision.test(child.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(child.stderr()).toMatch(decision);
  child.proc.kill('SIGTERM');
  const exit = await child.exited;
  expect(exit.code, child.stderr()).toBe(0);
});
