/**
 * A migrated PostgresStore on a database of its own per test file (see
 * @jqjobs/test-services), dropped afterwards.
 */
import { PostgresStore } from '@jqjobs/store-postgres';
import { createTestDatabase as createDatabase, PG_URL } from '@jqjobs/test-services';

export { PG_URL };

export interface TestDatabase {
  name: string;
  url: string;
  /** A store on the database, migrated. Closed by `drop`. */
  store: PostgresStore;
  drop(): Promise<void>;
}

export async function createTestDatabase(label: string, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const db = await createDatabase(`process_${label}`);
  const store = new PostgresStore({ connectionString: db.url }, { logger: 'silent' });
  if (options.migrate ?? true) await store.migrate();
  return {
    name: db.name,
    url: db.url,
    store,
    async drop() {
      await store.close();
      await db.drop();
    },
  };
}
