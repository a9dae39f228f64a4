// The store comes from one setting, so the same code runs on a laptop (memory)
// and in production (PostgreSQL or Redis). The database drivers are imported only
// when their URL is given: the memory store needs nothing installed.
import type { Store } from '@jqjobs/core';
import { MemoryStore } from '@jqjobs/store-memory';

export type StoreKind = 'memory' | 'postgres' | 'redis';

export interface OpenedStore {
  store: Store;
  kind: StoreKind;
  /** The URL with any password hidden, for logs. */
  label: string;
}

/**
 * - `memory` (or empty): a `MemoryStore`, in this process only;
 * - `postgres://…` / `postgresql://…`: a `PostgresStore`, migrated before use (safe
 *   when several processes start at once);
 * - `redis://…` / `rediss://…`: a `RedisStore`; an optional `?prefix=name` sets its
 *   key prefix (default `shop`), so several apps can share one Redis.
 */
export async function openStore(url: string | undefined): Promise<OpenedStore> {
  const setting = url?.trim() || 'memory';
  if (setting === 'memory' || setting === 'memory:') return { store: new MemoryStore(), kind: 'memory', label: 'memory' };

  let parsed: URL;
  try {
    parsed = new URL(setting);
  } catch {
    throw new Error(`JQ_STORE_URL / --store must be "memory", postgres://… or redis://…, got ${JSON.stringify(setting)}`);
  }
  const label = redact(parsed);

  if (parsed.protocol === 'postgres:' || parsed.protocol === 'postgresql:') {
    const { PostgresStore } = await import('@jqjobs/store-postgres');
    const store = new PostgresStore({ connectionString: setting, poolSize: 4 });
    try {
      await store.migrate();
    } catch (err) {
      await store.close();
      throw err;
    }
    return { store, kind: 'postgres', label };
  }

  if (parsed.protocol === 'redis:' || parsed.protocol === 'rediss:') {
    const { RedisStore } = await import('@jqjobs/store-redis');
    const prefix = parsed.searchParams.get('prefix') ?? 'shop';
    parsed.searchParams.delete('prefix'); // ours, not ioredis's
    const store = new RedisStore({ url: parsed.toString() }, { prefix });
    // Fail at start-up, not on the first request, when Redis is not there.
    try {
      await store.count();
    } catch (err) {
      await store.close();
      throw err;
    }
    return { store, kind: 'redis', label };
  }

  throw new Error(`unsupported store URL ${label}: use "memory", postgres://… or redis://…`);
}

function redact(url: URL): string {
  const copy = new URL(url.toString());
  if (copy.password) copy.password = '***';
  return copy.toString();
}
