/** `jqjobs resolve <id> --data <json>`: close out a wait_async job with the third party's data. */
import { JobNotFoundError, InvalidStateError, UnknownJobTypeError, type WaitAsyncDisposition } from '@jqjobs/core';
import { defineCommand } from '../command.ts';
import { UsageError } from '../errors.ts';
import { parseJsonData, resolveJob } from '../job-actions.ts';
import { loadJobModules } from '../load-jobs.ts';
import { storeOptionSpecs } from '../open-store.ts';
import { OperationFailedError, clean, jobError, jsonOption, printJson, withStore } from './admin-shared.ts';

export const resolveCommand = defineCommand({
  name: 'resolve',
  summary: "resolve a wait_async job: runs its type's resolveWaitAsync(payload, data)",
  usage: '--store <url> --jobs <module> <job-id> --data <json> [--convert-exception-to-failure] [--json]',
  details: [
    "The job's type must be defined by a --jobs module: resolving runs its resolveWaitAsync.",
    'Prints the disposition it returned: completed, failed or wait_async.',
    '',
    'Exit codes: 0 resolved; 1 the resolver threw (the job stays wait_async unless',
    '--convert-exception-to-failure) or the job is locked; 64 bad input (malformed JSON,',
    'no such job, a job that is not wait_async, a type no --jobs module defines): nothing',
    'was changed; 69 store unreachable.',
  ].join('\n'),
  options: {
    ...storeOptionSpecs,
    jobs: { type: 'string', valueName: '<module>', multiple: true, required: true, description: 'module exporting the job definitions' },
    data: { type: 'string', valueName: '<json>', required: true, description: "the third party's data, as JSON (e.g. '{\"paid\":true}')" },
    'convert-exception-to-failure': { type: 'boolean', description: 'if the resolver throws, fail the job instead of leaving it wait_async' },
    ...jsonOption,
  },
  maxPositionals: 1,
  async run({ options: o, positionals }, ctx) {
    const id = positionals[0];
    if (id === undefined || id.trim() === '') throw new UsageError('which job? give its id: jqjobs resolve --store <url> --jobs <module> <job-id> --data <json>');
    // Everything the command line says is checked before the store is touched.
    let data: unknown;
    try {
      data = parseJsonData(o.data ?? '', '--data');
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
    const jobs = await loadJobModules(o.jobs ?? [], ctx.cwd);
    return withStore(o, ctx, async (store) => {
      let disposition: WaitAsyncDisposition;
      try {
        disposition = await resolveJob(store, id, data, { jobs, convertExceptionToFailure: o['convert-exception-to-failure'] === true });
      } catch (err) {
        if (err instanceof JobNotFoundError || err instanceof InvalidStateError) throw jobError(err, 'resolve takes wait_async jobs only');
        if (err instanceof UnknownJobTypeError) throw new UsageError(`job ${id} has type ${JSON.stringify(err.type)}, which no --jobs module defines`);
        const mapped = jobError(err);
        if (mapped !== err) throw mapped;
        if (err instanceof Error && err.message.includes('has no resolveWaitAsync')) throw new UsageError(err.message);
        throw new OperationFailedError(`the resolver of job ${id} threw: ${err instanceof Error ? err.message : String(err)}; the job stays wait_async (see --convert-exception-to-failure)`, { cause: err });
      }
      if (o.json) printJson(ctx, { id, disposition });
      else ctx.stdout.write(`resolved job ${clean(id)}: ${disposition}\n`);
      return 0;
    });
  },
});
