import { Redis } from 'ioredis';

/** The Redis the tests use: `JQ_REDIS_URL`, default the local server on 6379. */
export const REDIS_URL = process.env.JQ_REDIS_URL ?? 'redis://127.0.0.1:6379';

const HOW_TO_START = 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no';

/** Fails (never skips) with instructions when Redis is not reachable. */
export async function requireRedis(url: string = REDIS_URL): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new Error(`Redis is not reachable at ${url} (${err instanceof Error ? err.message : String(err)}). Start one with: ${HOW_TO_START} — or set JQ_REDIS_URL.`);
  } finally {
    probe.disconnect();
  }
}

/** A plain client for test bookkeeping (never used by a store under test). */
export function adminClient(url: string = REDIS_URL): Redis {
  const c = new Redis(url, { maxRetriesPerRequest: 3, connectionName: 'jqjobs-test-admin' });
  c.on('error', () => {});
  return c;
}

/** Deletes every key of a store prefix (`{prefix}:…`) and returns how many there were. */
export async function dropPrefix(client: Redis, prefix: string): Promise<number> {
  const pattern = `${globEscape(`{${prefix}}`)}:*`;
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await client.unlink(...keys);
  } while (cursor !== '0');
  return n;
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Kills the connections whose client name is `name` or starts with `name:`; returns how many. */
export async function killConnections(client: Redis, name: string): Promise<number> {
  const list = (await client.client('LIST')) as string;
  let n = 0;
  for (const line of list.split('\n')) {
    const id = /(?:^|\s)id=(\d+)/.exec(line)?.[1];
    const cname = /(?:^|\s)name=(\S*)/.exec(line)?.[1];
    if (!id || !cname || (cname !== name && !cname.startsWith(`${name}:`))) continue;
    n += Number(await client.client('KILL', 'ID', id));
  }
  return n;
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestServer {
  port: number;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

/** Starts a private redis-server (from PATH) on a free loopback port in a temp dir; `stop()` shuts it down and removes the dir. */
export async function startRedisServer(args: string[] = [], port?: number): Promise<TestServer> {
  const { spawn } = await import('node:child_process');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const p = port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'jq-redis-'));
  const child = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `redis://127.0.0.1:${p}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await requireRedis(url);
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port: p,
    url,
    dir,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
