/** `jqjobs detect-hung`: one hung-job sweep, e.g. from cron when no worker runs sweeps. */
import { defineCommand } from '../command.ts';
import { storeOptionSpecs } from '../open-store.ts';
import { jsonOption, printJson, withStore } from './admin-shared.ts';

export const detectHungCommand = defineCommand({
  name: 'detect-hung',
  summary: 'retry (with mulligan) running jobs past maxRuntimeSeconds or whose worker stopped heartbeating',
  usage: '--store <url> [--json]',
  details: 'Workers sweep by themselves every 15 s (detectHungJobsEvery); this runs one sweep now.',
  options: { ...storeOptionSpecs, ...jsonOption },
  async run({ options: o }, ctx) {
    return withStore(o, ctx, async (store) => {
      const retried = await store.detectHungJobs();
      if (o.json) printJson(ctx, { retried });
      else ctx.stdout.write(`retried ${retried} hung job${retried === 1 ? '' : 's'}\n`);
      return 0;
    });
  },
});
