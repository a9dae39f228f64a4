/** `jqjobs list`: the jobs of a queue and/or status, a page at a time. */
import type { JobStatus } from '@jqjobs/core';
import { defineCommand } from '../command.ts';
import { storeOptionSpecs } from '../open-store.ts';
import { ALL_STATUSES_OPTION, formatTime, jsonOption, printJson, renderTable, truncate, withStore } from './admin-shared.ts';

export const listCommand = defineCommand({
  name: 'list',
  summary: 'list jobs, filtered by queue and status, a page at a time',
  usage: '--store <url> [--queue <name>] [--status <status>…] [--limit <n>] [--offset <n>] [--json]',
  details: [
    'Jobs come in enqueue order (ascending id), so --offset pages neither repeat nor skip.',
    'The total and the next page go to stderr; --json prints { total, offset, limit, jobs }.',
  ].join('\n'),
  options: {
    ...storeOptionSpecs,
    queue: { type: 'string', short: 'q', valueName: '<name>', description: 'only this queue' },
    status: ALL_STATUSES_OPTION,
    limit: { type: 'integer', short: 'n', min: 1, max: 10_000, valueName: '<n>', description: 'jobs per page', defaultText: '50' },
    offset: { type: 'integer', min: 0, valueName: '<n>', description: 'jobs to skip', defaultText: '0' },
    ...jsonOption,
  },
  async run({ options: o }, ctx) {
    const filter = { ...(o.queue !== undefined ? { queueName: o.queue } : {}), ...(o.status !== undefined ? { status: o.status as JobStatus[] } : {}) };
    const limit = o.limit ?? 50;
    const offset = o.offset ?? 0;
    return withStore(o, ctx, async (store) => {
      const [jobs, total] = await Promise.all([store.jobs({ ...filter, limit, offset }), store.count(filter)]);
      if (o.json) {
        printJson(ctx, { total, offset, limit, jobs });
        return 0;
      }
      if (jobs.length === 0) {
        ctx.stderr.write(total === 0 ? 'no jobs match\n' : `no jobs at offset ${offset} (${total} match)\n`);
        return 0;
      }
      const rows = jobs.map((j) => [
        j.id,
        truncate(j.type, 40),
        truncate(j.queueName, 30),
        j.status,
        String(j.priority),
        `${j.attemptNumber}/${j.maxAttempts}`,
        formatTime(j.createdAt),
        formatTime(j.startAt),
        j.errorMessage === null ? '' : truncate(j.errorMessage.split('\n')[0] ?? '', 60),
      ]);
      ctx.stdout.write(renderTable(['ID', 'TYPE', 'QUEUE', 'STATUS', 'PRI', 'ATTEMPT', 'CREATED', 'RUN AT', 'LAST ERROR'], rows, new Set([0, 4, 5])));
      const end = offset + jobs.length;
      ctx.stderr.write(`${offset + 1}–${end} of ${total}${end < total ? `; next page: --offset ${end}` : ''}\n`);
      return 0;
    });
  },
});
