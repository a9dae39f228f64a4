/**
 * A PostgreSQL database per test file on the server named by JQ_PG_URL, dropped
 * afterwards. An unreachable server fails the tests (never skips them).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_URL = process.env.JQ_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const PG_HOW_TO_START = 'start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set JQ_PG_URL)';

/** `url` with its database name replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs `fn` on a short-lived admin connection to `url` (JQ_PG_URL by default). */
export async function pgAdmin<T>(fn: (c: pg.Client) => Promise<T>, url = PG_URL): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${url}: ${(err as Error).message}; ${PG_HOW_TO_START}`, { cause: err });
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
  /** Drops the database, disconnecting anyone still on it. */
  drop(): Promise<void>;
}

/** Creates a fresh, empty database named after `label` for one test file. */
export async function createTestDatabase(label: string, baseUrl = PG_URL): Promise<TestDatabase> {
  const name = `jq_${label}_${process.pid}_${randomBytes(3).toString('hex')}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  await pgAdmin((c) => c.query(`create database "${name}"`), baseUrl);
  return {
    name,
    url: withDatabase(baseUrl, name),
    drop: () => pgAdmin((c) => c.query(`drop database if exists "${name}" with (force)`), baseUrl).then(() => undefined),
  };
}
