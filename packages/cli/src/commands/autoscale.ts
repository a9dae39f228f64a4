/** `jqjobs autoscale`: the autoscaler as a supervised process (@jqjobs/autoscaler). */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { defineCommand } from '../command.ts';
import { UsageError } from '../errors.ts';

type AutoscalerModule = typeof import('@jqjobs/autoscaler');

export const autoscaleCommand = defineCommand({
  name: 'autoscale',
  summary: 'size the worker pool from the queues (Heroku, AWS, or a dry run), until a signal stops it',
  usage: '--config <file>',
  details: [
    'The config file is an ES module whose default export is { store, scaler, queues, … }',
    '(see @jqjobs/autoscaler: defineAutoscalerConfig). It needs @jqjobs/autoscaler installed.',
    'SIGTERM, SIGINT, SIGHUP and SIGQUIT stop it after the current tick (exit 0); a failed loop exits 1.',
  ].join('\n'),
  options: {
    config: { type: 'string', valueName: '<file>', description: 'ES module exporting the autoscaler config', required: true },
  },
  async run({ options: o }, ctx) {
    const file = path.resolve(ctx.cwd, o.config!);
    if (!existsSync(file)) throw new UsageError(`no such config file: ${file}`);
    let mod: AutoscalerModule;
    try {
      mod = (await import('@jqjobs/autoscaler')) as AutoscalerModule;
    } catch {
      throw new UsageError('`jqjobs autoscale` needs @jqjobs/autoscaler: npm install @jqjobs/autoscaler');
    }
    let config;
    try {
      config = await mod.loadAutoscalerConfig(pathToFileURL(file).pathname);
    } catch (err) {
      // A config that does not load or validate is bad input: say why in one line.
      throw new UsageError(err instanceof Error ? err.message.split('\n')[0]! : String(err));
    }
    return mod.runAutoscaler(config);
  },
});
