/** The shipped drizzle-kit migrations, name substitution, and migrate(). */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMigrations, PostgresStore } from '../src/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers.ts';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('migrate');
  pool = new pg.Pool({ connectionString: db.url, max: 8 });
  pool.on('error', () => {});
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const journal = JSON.parse(readFileSync(new URL('../drizzle/meta/_journal.json', import.meta.url), 'utf8')) as { entries: { tag: string }[] };

describe('migrations', () => {
  it('ships every migration of the drizzle-kit journal, in order', () => {
    expect(getMigrations().map((m) => m.tag)).toEqual(journal.entries.map((e) => e.tag));
    for (const m of getMigrations()) expect(m.statements.length).toBeGreaterThan(0);
  });

  it('substitutes the schema and table names, and nothing else', () => {
    const sql = getMigrations({ schema: 'Billing', table: 'tasks' })
      .flatMap((m) => m.statements)
      .join('\n');
    expect(sql).not.toMatch(/"jqjobs"/);
    expect(sql).not.toMatch(/"jobs/);
    expect(sql).toContain('CREATE SCHEMA IF NOT EXISTS "Billing"');
    expect(sql).toContain('CREATE TABLE "Billing"."tasks"');
    expect(sql).toContain('"tasks_claim_idx"');
    expect(sql).toContain('ALTER TABLE "Billing"."tasks_offers" SET UNLOGGED');
    expect(sql).toContain('sequence name "Billing"."tasks_id_seq"');
    // Columns keep their names.
    expect(sql).toContain('"queue_name"');
    expect(() => getMigrations({ table: 'x; drop' })).toThrow(/table/);
  });

  it('migrate() creates the table once and records what it applied', async () => {
    const store = new PostgresStore({ pool }, { schema: 'm1', table: 'jobs', logger: 'silent' });
    expect(await store.migrate()).toEqual(journal.entries.map((e) => e.tag));
    expect(await store.migrate()).toEqual([]);
    const rows = await pool.query('select tag, hash from "m1"."jobs_migrations" order by tag');
    expect(rows.rows.map((r) => r.tag)).toEqual(journal.entries.map((e) => e.tag));
    const storage = await pool.query(`select reloptions from pg_class where oid = '"m1"."jobs"'::regclass`);
    expect(storage.rows[0].reloptions).toEqual(expect.arrayContaining([expect.stringMatching(/^fillfactor=/)]));
    // Offers of idle workers write no WAL.
    const offers = await pool.query(`select relpersistence from pg_class where oid = '"m1"."jobs_offers"'::regclass`);
    expect(offers.rows[0].relpersistence).toBe('u');
    await store.enqueue('m', {});
    expect(await store.count()).toBe(1);
    await store.close();
  });

  it('many concurrent migrate() calls (separate sessions) apply each migration once', async () => {
    const stores = Array.from({ length: 6 }, () => new PostgresStore({ connectionString: db.url }, { schema: 'm2', logger: 'silent' }));
    const applied = await Promise.all(stores.map((s) => s.migrate()));
    expect(applied.filter((a) => a.length > 0)).toHaveLength(1);
    expect(applied.flat()).toEqual(journal.entries.map((e) => e.tag));
    await Promise.all(stores.map((s) => s.close()));
  });

  it('the SQL applies with your own tool, in the public schema too', async () => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      for (const m of getMigrations({ schema: 'public', table: 'my_jobs' })) for (const s of m.statements) await client.query(s);
      await client.query('commit');
    } finally {
      client.release();
    }
    const store = new PostgresStore({ pool }, { schema: 'public', table: 'my_jobs', logger: 'silent' });
    const j = await store.enqueue('own-tool', { ok: true });
    expect((await store.get(j.id)).payload).toEqual({ ok: true });
    await store.close();
  });
});
