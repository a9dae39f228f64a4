/**
 * Store URLs: `memory:`, `postgres://…` / `postgresql://…`, `redis://…` / `rediss://…`.
 * Store packages are optional peers of the CLI and are imported only when their
 * scheme is used, so a Redis user never needs `pg` installed and vice versa.
 */
import type { Logger, LogLevel, Store } from '@jqjobs/core';
import type { OptionSpecs, ParsedOptions } from './args.ts';
import { UsageError } from './errors.ts';

export type StoreKind = 'memory' | 'postgres' | 'redis';

/** Options of `openStore`; each applies to the stores that have it and is ignored by the others. */
export interface OpenStoreOptions {
  /** Logger (or level) the store reports listener errors and warnings to. @default the store's own default */
  logger?: Logger | LogLevel;
  /** PostgreSQL schema of the jobs table. @default 'jqjobs' (the store's default) */
  schema?: string;
  /** PostgreSQL jobs table name. @default 'jobs' (the store's default) */
  table?: string;
  /** Redis key prefix. @default 'jq' (the store's default) */
  prefix?: string;
}

const SCHEMES: Record<string, StoreKind> = {
  'memory:': 'memory',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'redis:': 'redis',
  'rediss:': 'redis',
};

const PACKAGES: Record<StoreKind, { name: string; install: string }> = {
  memory: { name: '@jqjobs/store-memory', install: 'npm install @jqjobs/store-memory' },
  postgres: { name: '@jqjobs/store-postgres', install: 'npm install @jqjobs/store-postgres pg' },
  redis: { name: '@jqjobs/store-redis', install: 'npm install @jqjobs/store-redis ioredis' },
};

/**
 * The kind of store a URL names, without connecting or importing anything.
 * @throws UsageError for a malformed URL or an unknown scheme.
 */
export function storeKind(url: string): StoreKind {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`store URL ${JSON.stringify(redact(url))} is not a URL; use memory:, postgres://… or redis://…`);
  }
  const kind = SCHEMES[parsed.protocol];
  if (!kind) throw new UsageError(`unknown store scheme ${JSON.stringify(parsed.protocol)}; use memory:, postgres://…, postgresql://…, redis://… or rediss://…`);
  return kind;
}

/**
 * Opens the store a URL names. Nothing is written; PostgreSQL and Redis connect
 * lazily on first use, and migrations are not run (`jqjobs migrate` /
 * `store.migrate()` does that).
 * @throws UsageError for a bad URL, an unknown scheme, or a store package that is not installed.
 * @example
 * const store = await openStore(process.env.DATABASE_URL!, { schema: 'jobs' });
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const kind = storeKind(url);
  const base = options.logger === undefined ? {} : { logger: options.logger };
  switch (kind) {
    case 'memory': {
      const { MemoryStore } = await importStorePackage(kind, () => import('@jqjobs/store-memory'));
      return new MemoryStore(base);
    }
    case 'postgres': {
      const { PostgresStore } = await importStorePackage(kind, () => import('@jqjobs/store-postgres'));
      return new PostgresStore(
        { connectionString: url },
        { ...base, ...(options.schema === undefined ? {} : { schema: options.schema }), ...(options.table === undefined ? {} : { table: options.table }) },
      );
    }
    case 'redis': {
      const { RedisStore } = await importStorePackage(kind, () => import('@jqjobs/store-redis'));
      return new RedisStore({ url }, { ...base, ...(options.prefix === undefined ? {} : { prefix: options.prefix }) });
    }
  }
}

async function importStorePackage<T>(kind: StoreKind, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const pkg = PACKAGES[kind];
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((err as Error).message).includes(pkg.name)) {
      throw new UsageError(`the ${kind} store needs ${pkg.name}: ${pkg.install}`);
    }
    throw err;
  }
}

/** A URL with its password replaced, for messages and logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/** Command-line options every store-backed command shares; spread them into a command's options. */
export const storeOptionSpecs = {
  store: {
    type: 'string',
    valueName: '<url>',
    description: 'store URL: memory:, postgres://user@host/db, redis://host:6379',
    required: true,
    env: 'JQJOBS_STORE_URL',
  },
  schema: { type: 'string', valueName: '<name>', description: 'PostgreSQL schema of the jobs table', defaultText: 'jqjobs' },
  table: { type: 'string', valueName: '<name>', description: 'PostgreSQL jobs table', defaultText: 'jobs' },
  prefix: { type: 'string', valueName: '<prefix>', description: 'Redis key prefix', defaultText: 'jq' },
} as const satisfies OptionSpecs;

/** The `OpenStoreOptions` a command's parsed store options stand for. */
export function storeOptionsFrom(options: ParsedOptions<typeof storeOptionSpecs>, logger?: Logger | LogLevel): OpenStoreOptions {
  return {
    ...(logger === undefined ? {} : { logger }),
    ...(options.schema === undefined ? {} : { schema: options.schema }),
    ...(options.table === undefined ? {} : { table: options.table }),
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
  };
}
