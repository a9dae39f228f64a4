/**
 * Test databases: every test file gets its own database on the server named by
 * JQ_PG_URL and drops it afterwards. An unreachable server fails the tests.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '@jqjobs/core';
import pg from 'pg';

export const PG_URL = process.env.JQ_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const HOW_TO_START = 'start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start (or set JQ_PG_URL)';

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs `fn` on a short-lived admin connection to JQ_PG_URL. */
export async function admin<T>(fn: (c: pg.Client) => Promise<T>, url = PG_URL): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable at ${url}: ${(err as Error).message}; ${HOW_TO_START}`, { cause: err });
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
  drop(): Promise<void>;
}

/** Creates a fresh, empty database for one test file. */
export async function createTestDatabase(label: string, baseUrl = PG_URL): Promise<TestDatabase> {
  const name = `jq_pg_${label}_${process.pid}_${randomBytes(3).toString('hex')}`.toLowerCase();
  await admin((c) => c.query(`create database "${name}"`), baseUrl);
  return {
    name,
    url: withDatabase(baseUrl, name),
    drop: () => admin((c) => c.query(`drop database if exists "${name}" with (force)`), baseUrl).then(() => undefined),
  };
}

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  constructor(public t = Date.UTC(2030, 0, 1)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns true (a hang guard, not a timing assertion). */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}
