import type { Store } from '@jqjobs/core';
import { PostgresStore } from '@jqjobs/store-postgres';
import { JQJobsAdapter } from './jqjobs.ts';
import type { Target } from './types.ts';

export class JQJobsPostgresAdapter extends JQJobsAdapter {
  readonly name = 'jqjobs-postgres' as const;
  readonly backend = 'postgres' as const;

  constructor(private readonly target: Target) {
    super();
  }

  protected async open(): Promise<Store> {
    const store = new PostgresStore({ connectionString: this.target.pgUrl });
    try {
      await store.migrate();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }
}
