import { randomBytes } from 'node:crypto';
import { MemoryStore } from '@jqjobs/store-memory';
import { PostgresStore } from '@jqjobs/store-postgres';
import { RedisStore } from '@jqjobs/store-redis';
import { describe, expect, it } from 'vitest';
import { openStore, redact, storeKind, UsageError } from '../src/index.ts';
import { PG_URL } from './helpers/pg.ts';

const REDIS_URL = process.env.JQ_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('openStore', () => {
  it('names the store kind of each scheme without connecting', () => {
    expect(storeKind('memory:')).toBe('memory');
    expect(storeKind('postgres://u@127.0.0.1/db')).toBe('postgres');
    expect(storeKind('postgresql://u@127.0.0.1/db')).toBe('postgres');
    expect(storeKind('redis://127.0.0.1:6379')).toBe('redis');
    expect(storeKind('rediss://127.0.0.1:6380')).toBe('redis');
    expect(() => storeKind('mysql://x')).toThrow(UsageError);
    expect(() => storeKind('not a url')).toThrow(/is not a URL/);
  });

  it('opens a MemoryStore for memory:', async () => {
    const store = await openStore('memory:');
    expect(store).toBeInstanceOf(MemoryStore);
    await store.close();
  });

  it('opens a PostgresStore with the schema and table options', async () => {
    const store = await openStore(PG_URL, { schema: 'elsewhere', table: 'work', logger: 'silent' });
    expect(store).toBeInstanceOf(PostgresStore);
    expect((store as PostgresStore).schema).toBe('elsewhere');
    expect((store as PostgresStore).table).toBe('work');
    await store.close();
  });

  it('opens a RedisStore with the prefix, which works', async () => {
    const store = await openStore(REDIS_URL, { prefix: `jq-open-store-${randomBytes(4).toString('hex')}`, logger: 'silent' });
    expect(store).toBeInstanceOf(RedisStore);
    try {
      expect(await store.jobs({ limit: 1 })).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('rejects before importing anything for an unknown scheme', async () => {
    await expect(openStore('sqlite:///tmp/x')).rejects.toThrow(/unknown store scheme "sqlite:"/);
  });

  it('redacts passwords in messages', () => {
    expect(redact('postgres://u:secret@127.0.0.1/db')).toBe('postgres://u:***@127.0.0.1/db');
    expect(redact('redis://:pw@127.0.0.1:6379')).toBe('redis://:***@127.0.0.1:6379');
    expect(redact('memory:')).toBe('memory:');
  });
});
