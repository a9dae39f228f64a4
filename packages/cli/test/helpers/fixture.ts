/**
 * Per-file plumbing for tests that run `jqjobs worker` processes: a migrated
 * PostgreSQL database and a temp dir for the file, child processes killed and
 * the jobs table emptied after each test, everything removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from './pg.ts';
import { type Child, killAll } from './spawn.ts';

export interface WorkerFixture {
  db: TestDatabase;
  dir: string;
  children: Set<Child>;
}

export function useWorkerFixture(label: string): WorkerFixture {
  const fx = { children: new Set<Child>() } as WorkerFixture;
  beforeAll(async () => {
    fx.db = await createTestDatabase(label);
    fx.dir = mkdtempSync(path.join(os.tmpdir(), `jq-${label}-`));
  });
  afterEach(async () => {
    killAll(fx.children);
    await Promise.all([...fx.children].map((c) => c.exited));
    fx.children.clear();
    // Each test starts from an empty table.
    for (const job of await fx.db.store.jobs({ limit: 1000 })) await fx.db.store.delete(job.id);
  });
  afterAll(async () => {
    await fx.db?.drop();
    if (fx.dir) rmSync(fx.dir, { recursive: true, force: true });
  });
  return fx;
}
