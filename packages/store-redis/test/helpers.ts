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
