/** The lean statement path (lean-query.ts) against a real server: same rows as pg's, errors that leave the connection usable. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunLean, leanQuery } from '../src/lean-query.ts';
import { createTestDatabase, type TestDatabase } from './helpers.ts';

let db: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('lean');
  client = new pg.Client({ connectionString: db.url, query_timeout: 30_000 } as pg.ClientConfig);
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await db?.drop();
});

const stmt = { name: 'lean_t1', text: `select $1::text as a, $2::bigint + 1 as b, $3::boolean as c, $4::text is null as d, 10 / $2::int as e from generate_series(1, $5::int)` };

describe('leanQuery', () => {
  it('runs only statements prepared on the connection, and returns what pg returns, as text', async () => {
    expect(canRunLean(client, stmt.name, stmt.text, ['x', 1, true, null, 2])).toBe(false);
    const viaPg = await client.query({ ...stmt, values: ["it's ü", 41, true, null, 2], rowMode: 'array' });
    expect(canRunLean(client, stmt.name, stmt.text, ["it's ü", 41, true, null, 2])).toBe(true);
    // Not for another text under the same name, nor for values that are not scalars.
    expect(canRunLean(client, stmt.name, `${stmt.text} `, ['x'])).toBe(false);
    expect(canRunLean(client, stmt.name, stmt.text, [['a'], 1, true, null, 2])).toBe(false);
    const lean = await leanQuery(client, stmt.name, ["it's ü", 41, true, null, 2]);
    expect(lean).toEqual([
      ["it's ü", '42', 't', 't', '0'],
      ["it's ü", '42', 't', 't', '0'],
    ]);
    expect(viaPg.rows.map((r) => [r[0], r[1]])).toEqual(lean.map((r) => [r[0], r[1]]));
    expect(await leanQuery(client, stmt.name, ['', 0.5 as unknown as number, false, 'y', 0]).catch((e: Error) => e.message)).toMatch(/invalid input syntax for type bigint/);
  });

  it('a statement error rejects with the server error and leaves the connection usable', async () => {
    const err = await leanQuery(client, stmt.name, ['x', 0, true, null, 1]).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('22012'); // division by zero
    expect('severity' in (err as object)).toBe(true);
    const results: (string | null)[][][] = [];
    for (const n of [1, 2, 3]) results.push(await leanQuery(client, stmt.name, [`n${n}`, n, n % 2 === 0, null, n]));
    expect(results.map((rows) => rows.length)).toEqual([1, 2, 3]);
    expect(results.map((rows) => rows[0]![0])).toEqual(['n1', 'n2', 'n3']);
    expect((await client.query('select 1 as one')).rows[0].one).toBe(1);
  });

  it('a connection that cannot be used rejects instead of hanging', async () => {
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    await other.query({ ...stmt, values: ['x', 1, true, null, 1] });
    await other.end();
    await expect(leanQuery(other, stmt.name, ['x', 1, true, null, 1])).rejects.toThrow(/not queryable/);
  });
});
