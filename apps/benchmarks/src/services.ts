/**
 * The services under the queues: fresh targets per measurement (a database
 * created and dropped; a flushed Redis db ≥ 1) and the server-side counters the
 * report reads (WAL, commits, Redis command stats, memory, server CPU).
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Target } from './adapters/types.ts';

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** Every database the harness creates starts with this, followed by the creating process id. */
export const DB_PREFIX = 'jqbench_';

export function pgAdminUrl(): string {
  return process.env['JQ_PG_URL'] || DEFAULT_PG_URL;
}

export function redisBaseUrl(): string {
  return process.env['JQ_REDIS_URL'] || DEFAULT_REDIS_URL;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

// ----- Postgres ------------------------------------------------------------------

/** A monitoring connection to the admin database; never to a measured one, so its own work is not counted. */
export class PgAdmin {
  private constructor(private readonly client: pg.Client) {}

  static async connect(): Promise<PgAdmin> {
    const client = new pg.Client({ connectionString: pgAdminUrl(), application_name: 'jqbench-admin' });
    try {
      await client.connect();
    } catch (err) {
      throw new Error(`PostgreSQL is not reachable at ${pgAdminUrl()} (set JQ_PG_URL, or start it: pg_ctlcluster 15 main start)`, { cause: err });
    }
    return new PgAdmin(client);
  }

  async createDatabase(name: string): Promise<string> {
    await this.client.query(`CREATE DATABASE ${ident(name)} TEMPLATE template0`);
    return withDatabase(pgAdminUrl(), name);
  }

  async dropDatabase(name: string): Promise<void> {
    await this.client.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  }

  async listBenchDatabases(): Promise<string[]> {
    const r = await this.client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${DB_PREFIX}%`]);
    return r.rows.map((row) => row.datname);
  }

  async backendPids(db: string): Promise<number[]> {
    const r = await this.client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [db]);
    return r.rows.map((row) => row.pid);
  }

  /** Waits until no session is connected to `db` (its backends have exited and flushed their statistics). */
  async waitNoBackends(db: string, timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.backendPids(db)).length === 0) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  }

  async walLsn(): Promise<bigint> {
    const r = await this.client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return parseLsn(r.rows[0]!.lsn);
  }

  /** Committed and rolled-back transactions of `db` (pg_stat_database), as flushed so far. */
  async xacts(db: string): Promise<{ commit: number; rollback: number }> {
    const r = await this.client.query<{ c: string | null; r: string | null }>(
      'SELECT xact_commit::text AS c, xact_rollback::text AS r FROM pg_stat_database WHERE datname = $1',
      [db],
    );
    const row = r.rows[0];
    return { commit: Number(row?.c ?? 0), rollback: Number(row?.r ?? 0) };
  }

  async databaseSize(db: string): Promise<number> {
    const r = await this.client.query<{ s: string }>('SELECT pg_database_size($1)::text AS s', [db]);
    return Number(r.rows[0]!.s);
  }

  async serverVersion(): Promise<string> {
    const r = await this.client.query<{ v: string }>('SHOW server_version');
    return r.rows[0]!.v;
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

function ident(name: string): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`unsafe database name ${name}`);
  return `"${name}"`;
}

export function parseLsn(lsn: string): bigint {
  const [hi, lo] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

// ----- Redis ---------------------------------------------------------------------

export interface RedisCounters {
  /** Total calls over all commands, commands run inside Lua scripts included. */
  calls: number;
  byCommand: Map<string, number>;
  usedMemory: number;
  /** Seconds of CPU of the whole redis-server process (user + sys). */
  cpuSeconds: number;
}

/** A monitoring client on the measurement's Redis db. */
export class RedisAdmin {
  /** INFO calls this client made, subtracted from command deltas. */
  private infoCalls = 0;
  private constructor(
    private readonly client: Redis,
    readonly db: number,
  ) {}

  static async connect(db: number): Promise<RedisAdmin> {
    if (!Number.isInteger(db) || db < 1) throw new Error(`the benchmark Redis db must be ≥ 1 (db 0 belongs to other users), got ${db}`);
    const client = new Redis(redisBaseUrl(), { db, lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'jqbench-admin' });
    try {
      await client.connect();
    } catch (err) {
      client.disconnect();
      throw new Error(`Redis is not reachable at ${redisBaseUrl()} (set JQ_REDIS_URL, or start it: redis-server --daemonize yes)`, { cause: err });
    }
    return new RedisAdmin(client, db);
  }

  target(): Target['redis'] {
    const u = new URL(redisBaseUrl());
    const host = u.hostname || '127.0.0.1';
    const port = Number(u.port || 6379);
    u.pathname = `/${this.db}`;
    return { host, port, db: this.db, url: u.toString() };
  }

  async flush(): Promise<void> {
    await this.client.flushdb();
  }

  async dbSize(): Promise<number> {
    return this.client.dbsize();
  }

  async counters(): Promise<RedisCounters> {
    this.infoCalls++;
    const text = await this.client.info('all');
    const byCommand = new Map<string, number>();
    let calls = 0;
    let usedMemory = 0;
    let cpu = 0;
    for (const line of text.split('\r\n')) {
      const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
      if (m) {
        const n = Number(m[2]);
        byCommand.set(m[1]!, n);
        calls += n;
      } else if (line.startsWith('used_memory:')) usedMemory = Number(line.slice('used_memory:'.length));
      else if (line.startsWith('used_cpu_sys:')) cpu += Number(line.slice('used_cpu_sys:'.length));
      else if (line.startsWith('used_cpu_user:')) cpu += Number(line.slice('used_cpu_user:'.length));
    }
    return { calls, byCommand, usedMemory, cpuSeconds: cpu };
  }

  /** INFO calls made so far by this client (each counts once in the server's stats). */
  get ownCalls(): number {
    return this.infoCalls;
  }

  async serverVersion(): Promise<string> {
    this.infoCalls++;
    const text = await this.client.info('server');
    return /redis_version:(\S+)/.exec(text)?.[1] ?? 'unknown';
  }

  async close(): Promise<void> {
    await this.client.quit();
  }
}

// ----- host CPU ------------------------------------------------------------------

let ticks: number | null = null;
function clockTicks(): number {
  if (ticks === null) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat; null when unreadable. */
export function procCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return null;
  }
}
