import { defineJob, Worker } from '@jqjobs/core';
import { runStoreConformanceTests } from '@jqjobs/store-test-suite';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/index.ts';
import { startCluster, type TestCluster } from './helpers.ts';

// A real three-master cluster on loopback ports, started for this file and torn down after it.
let cluster: TestCluster;
let client: Cluster;
let n = 0;

beforeAll(async () => {
  cluster = await startCluster();
  client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })), { redisOptions: { connectionName: 'jqjobs-test-cluster' } });
  client.on('error', () => {});
}, 60_000);

afterAll(async () => {
  await client?.quit().catch(() => client.disconnect());
  await cluster?.stop();
}, 30_000);

async function dropClusterPrefix(prefix: string): Promise<void> {
  for (const node of client.nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await node.unlink(...keys);
    } while (cursor !== '0');
  }
}

runStoreConformanceTests<RedisStore>({
  name: 'RedisStore on Redis Cluster',
  createStore: ({ clock }) => new RedisStore({ client }, { prefix: `jqtest-cluster-${++n}`, clock, logger: 'silent' }),
  destroyStore: (store) => dropClusterPrefix(store.prefix),
});

describe('RedisStore on Redis Cluster', () => {
  it('spreads stores over the nodes by prefix, and each store keeps all its keys in one slot', async () => {
    const t = defineJob<number>({ name: 'cluster-spread', run: () => {} });
    const stores = Array.from({ length: 6 }, (_, i) => new RedisStore({ client }, { prefix: `jqtest-cluster-spread-${i}`, logger: 'silent' }));
    try {
      for (const s of stores) await s.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ type: t, payload: i, options: { queueName: `q${i % 3}` } })));
      const slotsPerStore = await Promise.all(
        stores.map(async (s) => {
          const slots = new Set<number>();
          for (const node of client.nodes('master')) {
            const keys = await node.keys(`{${s.prefix}}:*`);
            for (const k of keys) slots.add(Number(await node.cluster('KEYSLOT', k)));
          }
          return slots.size;
        }),
      );
      expect(slotsPerStore).toEqual([1, 1, 1, 1, 1, 1]);
      for (const s of stores) {
        const w = new Worker(s, { jobs: [t], concurrency: 4, exitIfNoJobs: true, enableJitter: false, logger: 'silent' });
        await w.start();
        expect(w.jobsProcessed).toBe(20);
      }
    } finally {
      for (const s of stores) {
        await s.close();
        await dropClusterPrefix(s.prefix);
      }
    }
  });
});
