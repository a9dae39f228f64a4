/** `jqjobs stats`: jobs per queue and status, and queue latency. */
import type { JobStatus, QueueStats } from '@jqjobs/core';
import { defineCommand } from '../command.ts';
import { storeOptionSpecs } from '../open-store.ts';
import { formatAge, jsonOption, printJson, renderTable, withStore } from './admin-shared.ts';

const COLUMNS: readonly JobStatus[] = ['queued', 'running', 'wait_async', 'failed', 'completed', 'unqueued'];

export const statsCommand = defineCommand({
  name: 'stats',
  summary: 'jobs per queue and status, with queue latency',
  usage: '--store <url> [--queue <name>] [--json]',
  details: [
    'DUE counts the queued jobs whose run time has come (QUEUED also holds jobs scheduled for later).',
    'LATENCY is the age of the oldest queued job that is due: how long work waits for a worker.',
    'Completed jobs appear only when kept (deleteOnComplete: false).',
  ].join('\n'),
  options: {
    ...storeOptionSpecs,
    queue: { type: 'string', short: 'q', valueName: '<name>', multiple: true, description: 'only these queues' },
    ...jsonOption,
  },
  async run({ options: o }, ctx) {
    return withStore(o, ctx, async (store) => {
      let stats: QueueStats[] = [...(await store.stats())].sort((a, b) => (a.queueName < b.queueName ? -1 : a.queueName > b.queueName ? 1 : 0));
      if (o.queue) {
        const wanted = new Set(o.queue);
        stats = stats.filter((s) => wanted.has(s.queueName));
      }
      if (o.json) {
        printJson(ctx, stats);
        return 0;
      }
      if (stats.length === 0) {
        ctx.stdout.write(o.queue ? 'no jobs in these queues\n' : 'no jobs in the store\n');
        return 0;
      }
      const totals = new Map<JobStatus, number>();
      // A store that does not report due jobs shows "—" there.
      const due = (s: QueueStats) => s.dueCount ?? null;
      const rows = stats.map((s) => {
        let sum = 0;
        const counts = COLUMNS.map((c) => {
          const n = s.counts[c] ?? 0;
          sum += n;
          totals.set(c, (totals.get(c) ?? 0) + n);
          return String(n);
        });
        return [s.queueName, counts[0]!, String(due(s) ?? '—'), ...counts.slice(1), String(sum), formatAge(s.oldestQueuedAgeMs)];
      });
      if (stats.length > 1) {
        const all = COLUMNS.map((c) => totals.get(c) ?? 0);
        const allDue = stats.every((s) => due(s) !== null) ? String(stats.reduce((n, s) => n + due(s)!, 0)) : '—';
        const oldest = stats.reduce<number | null>((m, s) => (s.oldestQueuedAgeMs === null ? m : Math.max(m ?? 0, s.oldestQueuedAgeMs)), null);
        rows.push(['(all)', String(all[0]), allDue, ...all.slice(1).map(String), String(all.reduce((a, b) => a + b, 0)), formatAge(oldest)]);
      }
      const headers = ['QUEUE', 'QUEUED', 'DUE', ...COLUMNS.slice(1).map((c) => c.toUpperCase()), 'TOTAL', 'LATENCY'];
      ctx.stdout.write(renderTable(headers, rows, new Set(headers.map((_, i) => i).filter((i) => i > 0))));
      return 0;
    });
  },
});
