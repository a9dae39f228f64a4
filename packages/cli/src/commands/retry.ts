/** `jqjobs retry`: failed jobs only, back to queued with a fresh set of attempts. */
import { defineCommand } from '../command.ts';
import { UsageError } from '../errors.ts';
import { retryJob } from '../job-actions.ts';
import { storeOptionSpecs } from '../open-store.ts';
import { bulkOptions, jsonOption, runJobAction } from './admin-shared.ts';

export const retryCommand = defineCommand({
  name: 'retry',
  summary: 'put failed jobs back to queued (failed jobs only; see restart)',
  usage: '--store <url> (<job-id>… | --queue <name> [--yes] | --status failed [--yes])',
  details: [
    'Only failed jobs qualify: a job in another status is refused (exit 64, nothing',
    'changed), and the bulk form selects failed jobs only, so it can never re-run a job',
    'that is queued, running or waiting. The job gets a fresh set of attempts.',
    '',
    'Examples:',
    '  jqjobs retry --store $DATABASE_URL 42',
    '  jqjobs retry --store $DATABASE_URL --queue email --yes',
    '',
    'Exit codes: 0 done; 1 some jobs could not be retried, or declined; 64 bad input',
    '(no such job, a job that is not failed): nothing was changed; 69 store unreachable.',
  ].join('\n'),
  options: { ...storeOptionSpecs, ...bulkOptions, ...jsonOption },
  maxPositionals: 10_000,
  async run({ options: o, positionals }, ctx) {
    if (o.status && o.status.some((s) => s !== 'failed')) throw new UsageError('retry takes failed jobs only; use restart for jobs in other statuses');
    return runJobAction(
      {
        verb: 'retry',
        past: 'retried',
        requiredFilter: { status: 'failed' },
        check: (job) => {
          if (job.status !== 'failed') throw new UsageError(`job ${job.id} is ${job.status}; retry takes failed jobs only (use restart)`);
        },
        apply: async (store, id) => {
          await retryJob(store, id);
          return true;
        },
      },
      o,
      positionals,
      ctx,
    );
  },
});
