import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs a fixture in a fresh `node` through tsx, reading the package from src/. */
function runScript(name: string): Promise<{ code: number; stdout: string[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--conditions=jqjobs-source', '--import', 'tsx', `test/fixtures/${name}`],
      { cwd: root, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? Number(err.code) : 0, stdout: stdout.split('\n').filter(Boolean), stderr });
      },
    );
  });
}

describe('scripts (child processes)', () => {
  it('runs deferred work after the last line, in registration order with concurrency 1', async () => {
    const { code, stdout, stderr } = await runScript('script-order.ts');
    expect(code).toBe(0);
    expect(stdout).toEqual([
      'middle',
      'last line',
      'start 1',
      'end 1',
      'start 2',
      'end 2',
      'start 3',
      'end 3',
      'start 4',
      'end 4',
      'context job-42',
      'after the failure',
      'deferred by deferred work',
    ]);
    // The failure is logged (default logger: warn and above, to stderr), and did not crash anything.
    expect(stderr).toMatch(/ERROR job failed .*this task fails/);
  });

  it('process.exit() skips deferred work (documented caveat)', async () => {
    const { code, stdout } = await runScript('script-exit.ts');
    expect(code).toBe(0);
    expect(stdout).toEqual(['exiting']);
  });

  it('await flush() before process.exit() runs it', async () => {
    const { code, stdout } = await runScript('script-flush.ts');
    expect(code).toBe(0);
    expect(stdout).toEqual(['flushing', 'deferred', 'exiting']);
  });

  it('exits after close() gives up on a hanging task, without waiting for its timeout', async () => {
    // The task has a 10-minute timeout: were its timer left running, the script would outlive this test.
    const { code, stdout } = await runScript('script-close.ts');
    expect(stdout).toEqual(['dropped hangs close-timeout', 'closed false']);
    expect(code).toBe(0);
  });
});
