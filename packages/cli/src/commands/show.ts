/** `jqjobs show <id>`: one job's record. */
import type { JobRecord } from '@jqjobs/core';
import { defineCommand } from '../command.ts';
import { UsageError } from '../errors.ts';
import { storeOptionSpecs } from '../open-store.ts';
import { clean, cleanBlock, formatTime, jobError, jsonOption, printJson, withStore } from './admin-shared.ts';

export const showCommand = defineCommand({
  name: 'show',
  summary: "one job's record: payload, attempts, error, timestamps",
  usage: '--store <url> <job-id> [--json]',
  details: 'The store keeps one record per job, not an event log: earlier attempts are not recorded.',
  options: { ...storeOptionSpecs, ...jsonOption },
  maxPositionals: 1,
  async run({ options: o, positionals }, ctx) {
    const id = positionals[0];
    if (id === undefined || id.trim() === '') throw new UsageError('which job? give its id: jqjobs show --store <url> <job-id>');
    return withStore(o, ctx, async (store) => {
      let job: JobRecord;
      try {
        job = await store.get(id);
      } catch (err) {
        throw jobError(err);
      }
      if (o.json) {
        printJson(ctx, job);
        return 0;
      }
      const fields: [string, string][] = [
        ['id', job.id],
        ['type', job.type],
        ['queue', job.queueName],
        ['status', job.status],
        ['priority', String(job.priority)],
        ['attempt', `${job.attemptNumber} of ${job.maxAttempts}`],
        ['coalesce id', job.coalesceId ?? '—'],
        ['max runtime', job.maxRuntimeSeconds === null ? '—' : `${job.maxRuntimeSeconds}s`],
        ['delete on complete', job.deleteOnComplete ? 'yes' : 'no'],
        ['backoff', job.backoff === null ? '—' : JSON.stringify(job.backoff)],
        ['created', formatTime(job.createdAt)],
        ['scheduled start', job.startAt === null && job.status === 'queued' ? 'due since its restart' : formatTime(job.startAt)],
        ['last started', formatTime(job.startedAt)],
        ['ended', formatTime(job.endedAt)],
      ];
      const width = Math.max(...fields.map(([k]) => k.length)) + 2;
      let out = fields.map(([k, v]) => `${k.padEnd(width)}${clean(v)}`).join('\n') + '\n';
      out += `\npayload:\n${cleanBlock(JSON.stringify(job.payload, null, 2) ?? 'null')}\n`;
      if (job.errorMessage !== null) out += `\nlast error:\n${cleanBlock(job.errorMessage)}\n`;
      ctx.stdout.write(out);
      return 0;
    });
  },
});
