// `jqjobs admin` and the admin commands as real processes: exit codes as a shell
// sees them, and the dashboard served by the binary until SIGTERM.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/pg.ts';
import { type Child, killAll, spawnCli } from './helpers/spawn.ts';

let db: TestDatabase;
const children = new Set<Child>();

beforeAll(async () => {
  db = await createTestDatabase('admin_proc');
});
afterEach(async () => {
  killAll(children);
  await Promise.all([...children].map((c) => c.exited));
  children.clear();
});
afterAll(async () => {
  await db?.drop();
});

function jqjobs(...args: string[]): Child {
  const child = spawnCli(args, { env: { ...process.env, JQJOBS_STORE_URL: '', JQJOBS_ADMIN_TOKEN: '' } });
  children.add(child);
  return child;
}

/** Waits for a stderr line matching `re` (a hang guard: fails if the process exits first). */
async function stderrMatch(child: Child, re: RegExp): Promise<RegExpExecArray> {
  for (;;) {
    const m = re.exec(child.stderr());
    if (m) return m;
    if (child.proc.exitCode !== null) throw new Error(`exited ${child.proc.exitCode} before printing ${re}; stderr:\n${child.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('jqjobs admin commands as processes', () => {
  it('exits 0 with output, 64 with one line for bad input', async () => {
    const job = await db.store.enqueue('admin-proc', { hello: 'world' }, { queueName: 'proc' });
    const ok = jqjobs('show', '--store', db.url, job.id, '--json');
    expect(await ok.exited).toEqual({ code: 0, signal: null });
    expect(JSON.parse(ok.stdout())).toMatchObject({ id: job.id, payload: { hello: 'world' } });

    const missing = jqjobs('show', '--store', db.url, '987654321');
    expect((await missing.exited).code).toBe(64);
    expect(missing.stderr()).toBe('jqjobs show: no such job: 987654321\n');

    const scheme = jqjobs('stats', '--store', 'ftp://127.0.0.1/');
    expect((await scheme.exited).code).toBe(64);
    expect(scheme.stderr().trimEnd().split('\n')).toHaveLength(1);

    const json = jqjobs('resolve', '--store', db.url, '--jobs', new URL('./fixtures/admin-jobs.ts', import.meta.url).pathname, job.id, '--data', '{"a":');
    expect((await json.exited).code).toBe(64);
    expect(json.stderr()).toMatch(/^jqjobs resolve: --data is not valid JSON: .*\n$/);
    expect((await db.store.get(job.id)).status).toBe('queued');
  });

  it('serves the dashboard on 127.0.0.1 with a generated token, until SIGTERM', async () => {
    const child = jqjobs('admin', '--store', db.url, '--port', '0', '--sample-interval', '0.5');
    const [, base, token] = await stderrMatch(child, /sign in by opening (http:\/\/127\.0\.0\.1:\d+)\/\?token=([A-Za-z0-9_-]+) once/);
    expect(token).toHaveLength(43);
    expect((await fetch(`${base}/api/stats`)).status).toBe(401);
    const r = await fetch(`${base}/api/stats`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { queues: { queueName: string }[] }).queues.map((q) => q.queueName)).toContain('proc');
    const login = await fetch(`${base}/?token=${token}`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    child.proc.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.stderr()).toContain('jqjobs admin: stopping');
  });

  it('takes the token from --token or $JQJOBS_ADMIN_TOKEN and refuses a short one', async () => {
    const short = jqjobs('admin', '--store', db.url, '--port', '0', '--token', 'short');
    expect((await short.exited).code).toBe(64);
    expect(short.stderr()).toBe('jqjobs admin: --token must be at least 16 characters\n');

    const child = spawnCli(['admin', '--store', db.url, '--port', '0'], { env: { ...process.env, JQJOBS_ADMIN_TOKEN: 'from-the-environment-0123' } });
    children.add(child);
    const [, base] = await stderrMatch(child, /dashboard for \S+ at (http:\/\/127\.0\.0\.1:\d+)/);
    expect((await fetch(`${base}/`, { headers: { authorization: 'Bearer from-the-environment-0123' } })).status).toBe(200);
    child.proc.kill('SIGINT');
    expect((await child.exited).code).toBe(0);
  });

  it('fails fast with exit 69 when the store is unreachable', async () => {
    const child = jqjobs('admin', '--store', 'postgres://postgres@127.0.0.1:1/none', '--port', '0');
    expect((await child.exited).code).toBe(69);
    expect(child.stderr().trimEnd().split('\n')).toHaveLength(1);
  });
});
