import { runStoreConformanceTests } from '@jqjobs/store-test-suite';
import { afterAll, beforeAll } from 'vitest';
import { RedisStore } from '../src/index.ts';
import { adminClient, dropPrefix, REDIS_URL, requireRedis } from './helpers.ts';

const FILE_PREFIX = `jqtest-conf-${process.pid}`;
const admin = adminClient();
let n = 0;

beforeAll(() => requireRedis());
afterAll(async () => {
  admin.disconnect();
});

runStoreConformanceTests<RedisStore>({
  name: 'RedisStore',
  createStore: ({ clock }) => new RedisStore({ url: REDIS_URL }, { prefix: `${FILE_PREFIX}-${++n}`, clock, logger: 'silent' }),
  destroyStore: async (store) => {
    await dropPrefix(admin, store.prefix);
  },
});
