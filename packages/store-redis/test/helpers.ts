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
  // Never leave a server behind, even when the test process dies early.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((r) =>
    child.once('exit', () => {
      process.off('exit', killOnExit);
      r();
    }),
  );
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

/** A port p on 127.0.0.1 such that p and p + 10000 (the cluster bus port) are both free. */
export async function freeClusterPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const bindable = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
  for (let i = 0; i < 200; i++) {
    const p = 20000 + Math.floor(Math.random() * 20000);
    if ((await bindable(p)) && (await bindable(p + 10000))) return p;
  }
  throw new Error('no free port pair for a cluster node');
}

export interface TestCluster {
  ports: number[];
  stop(): Promise<void>;
}

/**
 * Starts a three-master Redis Cluster on loopback ports (redis-server and redis-cli
 * from PATH), each node in its own temp dir, and waits until it reports `cluster_state:ok`.
 */
export async function startCluster(): Promise<TestCluster> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const run = promisify(execFile);
  const nodes: TestServer[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freeClusterPort();
      nodes.push(await startRedisServer(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'], port));
    }
    const ports = nodes.map((n) => n.port);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    const deadline = Date.now() + 30_000;
    for (const p of ports) {
      const c = new Redis({ host: '127.0.0.1', port: p, maxRetriesPerRequest: 1 });
      c.on('error', () => {});
      try {
        for (;;) {
          const info = (await c.cluster('INFO')) as string;
          if (/cluster_state:ok/.test(info)) break;
          if (Date.now() > deadline) throw new Error(`cluster node ${p} not ok: ${info}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        c.disconnect();
      }
    }
    return { ports, stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))) };
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}
