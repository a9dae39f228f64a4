// `jqjobs worker` input handling and code-change restarts, against PostgreSQL.
import { appendFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/index.ts';
import { useWorkerFixture } from './helpers/fixture.ts';
import { createTestDatabase } from './helpers/pg.ts';
import { spawnCli } from './helpers/spawn.ts';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const jobsModule = path.join(fixtures, 'jobs.ts');
const corePackage = fileURLToPath(new URL('../../core', import.meta.url));
const fx = useWorkerFixture('cli');

function memoryOut(): { text: () => string; write: (s: string) => boolean } {
  let text = '';
  return { text: () => text, write: (s: string) => ((text += s), true) };
}

describe('jqjobs worker: bad input exits 64 with one line and changes nothing', () => {
  const cases: [string, (url: string) => string[], RegExp][] = [
    ['unknown store scheme', () => ['--store', 'mysql://127.0.0.1/x', '--jobs', jobsModule], /unknown store scheme "mysql:"/],
    ['a store URL that is not a URL', () => ['--store', 'nonsense', '--jobs', jobsModule], /is not a URL/],
    ['missing module', (url) => ['--store', url, '--jobs', path.join(fixtures, 'missing.ts')], /--jobs .*missing\.ts: no such file/],
    ['module exporting no jobs', (url) => ['--store', url, '--jobs', path.join(fixtures, 'no-jobs.ts')], /exports no job definitions/],
    ['concurrency 0', (url) => ['--store', url, '--jobs', jobsModule, '--concurrency', '0'], /--concurrency must be an integer ≥ 1, got "0"/],
    ['concurrency not a number', (url) => ['--store', url, '--jobs', jobsModule, '--concurrency', 'many'], /--concurrency must be an integer/],
    ['fractional exit-after', (url) => ['--store', url, '--jobs', jobsModule, '--exit-after', '1.5'], /--exit-after must be an integer/],
    ['negative graceful timeout', (url) => ['--store', url, '--jobs', jobsModule, '--graceful-shutdown-timeout', '-1'], /--graceful-shutdown-timeout must be a number ≥ 0/],
    ['priority out of range', (url) => ['--store', url, '--jobs', jobsModule, '--adjust-priority', '25'], /--adjust-priority must be an integer from -20 to 19/],
    ['memory not a size', (url) => ['--store', url, '--jobs', jobsModule, '--guarantee-memory-for-job', 'lots'], /--guarantee-memory-for-job must be a size in bytes/],
    ['a missing value', (url) => ['--store', url, '--jobs', jobsModule, '--queue'], /--queue needs a value/],
    ['an unknown option', (url) => ['--store', url, '--jobs', jobsModule, '--concurency', '2'], /unknown option --concurency/],
    ['no --jobs', (url) => ['--store', url], /--jobs is required/],
    ['no --store', () => ['--jobs', jobsModule], /--store is required \(or set \$JQJOBS_STORE_URL\)/],
    ['--verbose with --silent', (url) => ['--store', url, '--jobs', jobsModule, '--verbose', '--silent'], /cannot be used together/],
    ['an empty queue name', (url) => ['--store', url, '--jobs', jobsModule, '--queue', ''], /--queue must not be empty/],
  ];

  it.each(cases)('%s', async (_label, args, message) => {
    const job = await fx.db.store.enqueue('sleep', { ms: 1 });
    const stdout = memoryOut();
    const stderr = memoryOut();
    const code = await runCli(['worker', ...args(fx.db.url)], { stdout, stderr, env: {} });
    expect(code).toBe(64);
    const lines = stderr.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^jqjobs worker: /);
    expect(lines[0]).toMatch(message);
    expect(stdout.text()).toBe('');
    expect(await fx.db.store.get(job.id)).toMatchObject({ status: 'queued', attemptNumber: 0, startedAt: null });
  });

  it('the real binary: one line on stderr, exit 64, the store untouched', async () => {
    const job = await fx.db.store.enqueue('sleep', { ms: 1 });
    for (const args of [
      ['worker', '--store', 'ftp://127.0.0.1/', '--jobs', jobsModule],
      ['worker', '--store', fx.db.url, '--jobs', path.join(fixtures, 'no-jobs.ts')],
      ['worker', '--store', fx.db.url, '--jobs', jobsModule, '--concurrency', '-3'],
      ['no-such-command'],
    ]) {
      const child = spawnCli(args);
      fx.children.add(child);
      expect((await child.exited).code, args.join(' ')).toBe(64);
      expect(child.stderr().trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
    expect(await fx.db.store.get(job.id)).toMatchObject({ status: 'queued', attemptNumber: 0 });
  });

  it('reads the store URL from $JQJOBS_STORE_URL and validates it the same way', async () => {
    const stderr = memoryOut();
    const code = await runCli(['worker', '--jobs', jobsModule], { stderr, stdout: memoryOut(), env: { JQJOBS_STORE_URL: 'bogus://x' } });
    expect(code).toBe(64);
    expect(stderr.text()).toMatch(/unknown store scheme "bogus:"/);
  });

  it('exits 69 with one line when the store is unreachable or not migrated', async () => {
    const fresh = await createTestDatabase('unmigrated', { migrate: false });
    try {
      for (const url of [fresh.url, 'postgres://postgres@127.0.0.1:1/nothing']) {
        const child = spawnCli(['worker', '--store', url, '--jobs', jobsModule]);
        fx.children.add(child);
        expect((await child.exited).code, url).toBe(69);
        expect(child.stderr().trim().split('\n'), url).toHaveLength(1);
        expect(child.stderr()).toMatch(/is not usable/);
      }
    } finally {
      await fresh.drop();
    }
  });

  it('--help prints the options and exit codes on stdout, exit 0', async () => {
    const stdout = memoryOut();
    expect(await runCli(['worker', '--help'], { stdout, stderr: memoryOut() })).toBe(0);
    expect(stdout.text()).toContain('--graceful-shutdown-timeout');
    expect(stdout.text()).toContain('Exit codes:');
  });
});

describe('jqjobs worker: code-change restart (exit 2 before the next job)', () => {
  /** A project directory outside the repo whose node_modules links to @jqjobs/core. */
  function project(files: Record<string, string>): string {
    const root = mkdtempSync(path.join(fx.dir, 'app-'));
    mkdirSync(path.join(root, 'node_modules', '@jqjobs'), { recursive: true });
    symlinkSync(corePackage, path.join(root, 'node_modules', '@jqjobs', 'core'), 'dir');
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(root, name), text);
    return root;
  }

  async function expectRestartOnEdit(jobsFile: string, edited: string): Promise<void> {
    const release = path.join(path.dirname(jobsFile), 'release');
    const first = await fx.db.store.enqueue('cc-block', { release }, { deleteOnComplete: false });
    const second = await fx.db.store.enqueue('cc-block', { release }, { deleteOnComplete: false });
    const child = spawnCli(['worker', '--store', fx.db.url, '--jobs', jobsFile, '--no-jitter', '--watch-interval', '0.2', '--log-format', 'json']);
    fx.children.add(child);
    await child.waitForLog((r) => r.msg === 'job started' && r.jobId === first.id);
    appendFileSync(edited, '\n// edited\n');
    const notice = await child.waitForLog((r) => typeof r.msg === 'string' && r.msg.startsWith('source file changed'));
    expect(notice.file).toBe(edited);
    writeFileSync(release, '');
    expect((await child.exited).code).toBe(2);
    expect(await fx.db.store.get(first.id)).toMatchObject({ status: 'completed' });
    expect(await fx.db.store.get(second.id)).toMatchObject({ status: 'queued', attemptNumber: 0 });
  }

  const blockJob = `async run({ release }) {
    const { existsSync } = await import('node:fs');
    while (!existsSync(release)) await new Promise((r) => setTimeout(r, 25));
  }`;

  it('an ES module imported by the job module changes', async () => {
    const root = project({
      'helper.ts': 'export const greeting: string = "hello";\n',
      'jobs.ts': `import { defineJob } from '@jqjobs/core';\nimport { greeting } from './helper.ts';\nexport const ccBlock = defineJob<{ release: string }>({ name: 'cc-block', description: () => greeting, ${blockJob} });\n`,
    });
    await expectRestartOnEdit(path.join(root, 'jobs.ts'), path.join(root, 'helper.ts'));
  });

  it('a CommonJS job module changes', async () => {
    const root = project({
      'jobs.cjs': `const { defineJob } = require('@jqjobs/core');\nmodule.exports = { ccBlock: defineJob({ name: 'cc-block', ${blockJob} }) };\n`,
    });
    await expectRestartOnEdit(path.join(root, 'jobs.cjs'), path.join(root, 'jobs.cjs'));
  });
});
