/** `jqjobs migrate`: bring the store's schema up to date (PostgreSQL; the others need none). */
import type { Store } from '@jqjobs/core';
import { defineCommand } from '../command.ts';
import { redact, storeKind, storeOptionSpecs } from '../open-store.ts';
import { jsonOption, printJson, withStore } from './admin-shared.ts';

interface Migratable {
  migrate(): Promise<readonly string[] | void>;
}

function isMigratable(store: Store): store is Store & Migratable {
  return typeof (store as Partial<Migratable>).migrate === 'function';
}

export const migrateCommand = defineCommand({
  name: 'migrate',
  summary: "apply the store's pending schema migrations (PostgreSQL; safe to run again)",
  usage: '--store <url> [--schema <name>] [--table <name>] [--json]',
  details: 'Memory and Redis stores have no schema: the command says so and exits 0.',
  options: { ...storeOptionSpecs, ...jsonOption },
  async run({ options: o }, ctx) {
    const kind = storeKind(o.store ?? '');
    // No probe: the probe reads the jobs table, which is what migrating creates.
    return withStore(
      o,
      ctx,
      async (store) => {
        if (!isMigratable(store)) {
          if (o.json) printJson(ctx, { store: kind, applied: [] });
          else ctx.stdout.write(`the ${kind} store has no schema to migrate\n`);
          return 0;
        }
        const applied = [...((await store.migrate()) ?? [])];
        if (o.json) printJson(ctx, { store: kind, applied });
        else if (applied.length === 0) ctx.stdout.write(`${redact(o.store ?? '')}: schema is up to date\n`);
        else ctx.stdout.write(`applied ${applied.length} migration${applied.length === 1 ? '' : 's'}: ${applied.join(', ')}\n`);
        return 0;
      },
      { probe: false },
    );
  },
});
