/** `jqjobs delete`: remove jobs, running their type's cleanup when --jobs defines it. */
import { defineCommand } from '../command.ts';
import { deleteJob } from '../job-actions.ts';
import { loadJobModules } from '../load-jobs.ts';
import { storeOptionSpecs } from '../open-store.ts';
import { bulkOptions, jsonOption, runJobAction } from './admin-shared.ts';

export const deleteCommand = defineCommand({
  name: 'delete',
  summary: 'delete jobs for good (any status)',
  usage: '--store <url> [--jobs <module>] (<job-id>… | --queue <name> [--status <status>] [--yes])',
  details: [
    "A job type's cleanup() runs before its job is deleted when --jobs loads its definition.",
    '',
    'Examples:',
    '  jqjobs delete --store $DATABASE_URL 42',
    '  jqjobs delete --store $DATABASE_URL --queue email --status failed --yes',
    '',
    'Exit codes: 0 done; 1 some jobs could not be deleted, or declined; 64 bad input',
    '(no such job, bad option): nothing was changed; 69 store unreachable.',
  ].join('\n'),
  options: {
    ...storeOptionSpecs,
    jobs: { type: 'string', valueName: '<module>', multiple: true, description: "module exporting job definitions, so their cleanup() runs" },
    ...bulkOptions,
    ...jsonOption,
  },
  maxPositionals: 10_000,
  async run({ options: o, positionals }, ctx) {
    // Loading registers the definitions in this process, where the store finds their cleanup().
    if (o.jobs) await loadJobModules(o.jobs, ctx.cwd);
    return runJobAction(
      {
        verb: 'delete',
        past: 'deleted',
        apply: async (store, id) => {
          await deleteJob(store, id);
          return true;
        },
      },
      o,
      positionals,
      ctx,
    );
  },
});
