/**
 * A database per test file on the server named by JQ_PG_URL, dropped afterwards.
 * An unreachable server fails the tests (never skips them).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { PostgresStore } from '@jqjobs/store-postgres';

// The CLI has `pg` (a dev dependency, for the store) but not its types; this is all the tests use of it.
interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}
const pg = createRequire(import.meta.url)('pg') as { Client: new (config: { connectionString: string; connectionTimeoutMillis: number }) => PgClient };

export const PG_URL = process.env.JQ_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const HOW_TO_START = 'start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set JQ_PG_URL)';

async function admin<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${PG_URL}: ${(err as Error).message}; ${HOW_TO_START}`, { cause: err });
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** A store on the database, migrated. Closed by `drop`. */
  store: PostgresStore;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `jq_process_${label}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create database "${name}"`));
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  const store = new PostgresStore({ connectionString: url }, { logger: 'silent' });
  if (options.migrate ?? true) await store.migrate();
  return {
    name,
    url,
    store,
    async drop() {
      await store.close();
      await admin((c) => c.query(`drop database if exists "${name}" with (force)`));
    },
  };
}
