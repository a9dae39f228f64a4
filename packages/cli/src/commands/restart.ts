/** `jqjobs restart`: any job back to queued with its attempts reset (see job-actions.ts for restart vs retry). */
import { defineCommand } from '../command.ts';
import { restartJob } from '../job-actions.ts';
import { storeOptionSpecs } from '../open-store.ts';
import { bulkOptions, jsonOption, runJobAction } from './admin-shared.ts';

export const restartCommand = defineCommand({
  name: 'restart',
  summary: 'put jobs back to queued from any status, attempts reset',
  usage: '--store <url> (<job-id>… | --queue <name> [--status <status>] [--yes])',
  details: [
    'Works from every status. A running job is taken from its worker (whose late result is',
    'then discarded) and runs again; use `retry` to touch failed jobs only.',
    '',
    'Examples:',
    '  jqjobs restart --store $DATABASE_URL 42 43',
    '  jqjobs restart --store $DATABASE_URL --queue email --status failed --yes',
    '',
    'Exit codes: 0 done; 1 some jobs could not be restarted, or declined; 64 bad input',
    '(no such job, bad option): nothing was changed; 69 store unreachable.',
  ].join('\n'),
  options: { ...storeOptionSpecs, ...bulkOptions, ...jsonOption },
  maxPositionals: 10_000,
  async run({ options: o, positionals }, ctx) {
    return runJobAction(
      {
        verb: 'restart',
        past: 'restarted',
        apply: async (store, id) => {
          await restartJob(store, id);
          return true;
        },
      },
      o,
      positionals,
      ctx,
    );
  },
});
