import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));

it('the demo enqueues, runs, retries, coalesces, parks and completes jobs, then exits 0', () => {
  const r = spawnSync(tsx, ['--conditions=jqjobs-source', 'src/demo.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  for (const word of ['enqueued', 'started', 'retrying', 'coalesced', 'waiting', 'webhook', 'completed']) {
    expect(r.stdout, word).toContain(word);
  }
  expect(r.stdout).toMatch(/done: 5 jobs processed, 0 left in the store/);
});
