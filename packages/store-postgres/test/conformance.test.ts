import { runStoreConformanceTests } from '@jqjobs/store-test-suite';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { PostgresStore } from '../src/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers.ts';

let db: TestDatabase;
let pool: pg.Pool;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase('kit');
  pool = new pg.Pool({ connectionString: db.url, max: 20 });
  pool.on('error', () => {});
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

// A fresh table per test (same database), so every store starts empty.
runStoreConformanceTests({
  name: 'PostgresStore',
  createStore: async ({ clock }) => {
    const store = new PostgresStore({ pool }, { clock, table: `jobs_${++n}`, logger: 'silent' });
    await store.migrate();
    return store;
  },
  destroyStore: async (store) => {
    await pool.query(`drop table "${store.schema}"."${store.table}", "${store.schema}"."${store.table}_migrations"`);
  },
});
