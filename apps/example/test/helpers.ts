// Test plumbing: a fresh PostgreSQL database or Redis key prefix per test file,
// and the shop started the way demo.ts starts it. An unreachable server fails the
// test and says how to start it.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { createTestDatabase, PG_URL } from '@jqjobs/test-services';
import { startPaymentProvider, type PaymentProvider } from '../src/payment-provider.ts';
import { startShop, type Shop } from '../src/shop.ts';
import { Timeline } from '../src/timeline.ts';

export { PG_URL };
export const REDIS_URL = process.env.JQ_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The forked worker process runs worker.ts from source, as `pnpm demo` does under tsx. */
export const WORKER_EXEC_ARGV = ['--conditions=jqjobs-source', '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];

export interface Resource {
  url: string;
  drop(): Promise<void>;
}

export async function createDatabase(): Promise<Resource> {
  const db = await createTestDatabase('example');
  return { url: db.url, drop: db.drop };
}

export async function createRedisPrefix(): Promise<Resource> {
  const prefix = `jq-example-${process.pid}-${randomBytes(3).toString('hex')}`;
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 3_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    throw new Error(
      `Redis is not reachable at ${REDIS_URL} (${(err as Error).message}). Start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no — or set JQ_REDIS_URL.`,
      { cause: err },
    );
  }
  const url = new URL(REDIS_URL);
  url.searchParams.set('prefix', prefix);
  return {
    url: url.toString(),
    async drop() {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await client.unlink(...keys);
      } while (cursor !== '0');
      client.disconnect();
    },
  };
}

export interface Running {
  shop: Shop;
  provider: PaymentProvider;
  timeline: Timeline;
  close(): Promise<void>;
}

/** The shop, its payment provider and a silent timeline, with demo-sized delays. */
export async function startDemoShop(storeUrl: string, paymentProviderUrl?: string): Promise<Running> {
  const timeline = new Timeline(null);
  const secret = 'test-secret';
  const provider = await startPaymentProvider({ secret, onDelivery: (text) => timeline.note('webhook', text) });
  const shop = await startShop({
    storeUrl,
    paymentProviderUrl: paymentProviderUrl ?? provider.url,
    webhookSecret: secret,
    timeline,
    workerExecArgv: WORKER_EXEC_ARGV,
    env: {}, // never pick up a real cloud's autoscaler settings from the test environment
    reviewRequestDelayMs: 1_500,
    reindexDebounceMs: 1_500,
    autoscalerIntervalSeconds: 0.5,
  });
  provider.webhookUrl = `${shop.url}/webhooks/payments`;
  return {
    shop,
    provider,
    timeline,
    async close() {
      await shop.close();
      await provider.close();
    },
  };
}
