/** `jqjobs worker`: a supervised worker process (runWorkerProcess from @jqjobs/core). */
import path from 'node:path';
import { createLogger, runWorkerProcess, type LogLevel } from '@jqjobs/core';
import { defineCommand } from '../command.ts';
import { StoreUnavailableError, UsageError } from '../errors.ts';
import { loadJobModules } from '../load-jobs.ts';
import { openStore, redact, storeKind, storeOptionSpecs, storeOptionsFrom } from '../open-store.ts';

const options = {
  ...storeOptionSpecs,
  jobs: { type: 'string', valueName: '<module>', description: 'module exporting the job definitions (ESM or CommonJS)', required: true, multiple: true },
  queue: { type: 'string', short: 'q', valueName: '<name>', description: 'take jobs from this queue only', multiple: true, defaultText: 'every queue' },
  concurrency: { type: 'integer', short: 'c', min: 1, description: 'jobs in flight at once', defaultText: '1' },
  'exit-if-no-jobs': { type: 'boolean', description: 'exit 0 when no job is available' },
  'exit-after': { type: 'integer', min: 1, valueName: '<n>', description: 'exit 0 after this many jobs' },
  'graceful-shutdown-timeout': { type: 'number', min: 0, valueName: '<s>', description: 'seconds in-flight jobs get after SIGTERM before they are retried', defaultText: '5' },
  'adjust-priority': { type: 'integer', min: -20, max: 19, valueName: '<n>', description: 'process niceness (os.setPriority)', defaultText: 'unchanged' },
  'guarantee-memory-for-job': { type: 'bytes', min: 0, valueName: '<bytes>', description: 'free heap needed before taking a job, else exit 1 (KB/MB/GB are 1024-based)', defaultText: '20% of the heap limit' },
  'wakeup-every': { type: 'number', min: 0, valueName: '<s>', description: 'seconds between polls when idle', defaultText: '5' },
  'heartbeat-seconds': { type: 'number', min: 0.01, valueName: '<s>', description: 'seconds between lease renewals; the lease is three heartbeats', defaultText: '10' },
  'detect-hung-jobs-every': { type: 'number', min: 0, valueName: '<s>', description: 'seconds between hung-job sweeps, 0 = off', defaultText: '15' },
  'no-jitter': { type: 'boolean', description: 'no random 0–999 ms delay at start and when idle' },
  'watch-interval': { type: 'number', min: 0, valueName: '<s>', description: 'seconds between checks for changed source files (exit 2), 0 = off', defaultText: '1' },
  watch: { type: 'string', valueName: '<file>', description: 'also restart (exit 2) when this file changes', multiple: true },
  'worker-id': { type: 'string', valueName: '<id>', description: 'worker id in logs and claims', defaultText: 'host:pid:random' },
  verbose: { type: 'boolean', short: 'v', description: 'log debug details too' },
  silent: { type: 'boolean', description: 'log nothing' },
  'log-format': { type: 'string', choices: ['json', 'text'], valueName: '<json|text>', description: 'log line format on stderr', defaultText: 'text on a terminal, else json' },
} as const;

export const workerCommand = defineCommand({
  name: 'worker',
  summary: 'run jobs as a supervised process (exit codes 0/1/2/3 for runit, systemd, Heroku)',
  usage: '--store <url> --jobs <module> [options]',
  details: [
    'Signals: SIGTERM/SIGQUIT/SIGABRT stop taking jobs, give in-flight jobs the graceful',
    'timeout, then retry them with mulligan. SIGHUP and the first SIGINT finish in-flight',
    'jobs; a second SIGINT stops at once.',
    '',
    'Exit codes:',
    '  0   stopped (signal with all jobs finished, --exit-if-no-jobs, --exit-after)',
    '  1   free memory below --guarantee-memory-for-job; restart me',
    '  2   a source file changed on disk; restart me',
    '  3   stopped by a signal; unfinished jobs were retried with mulligan',
    '  64  bad command line (nothing was changed)',
    '  69  the store could not be reached at start',
    '  70  crashed (uncaught error) or the jobs module failed to load',
  ].join('\n'),
  options,
  async run({ options: o }, ctx) {
    if (o.verbose && o.silent) throw new UsageError('--verbose and --silent cannot be used together');
    const url = o.store!;
    // Validate everything the command line says before touching the store.
    storeKind(url);
    const jobs = await loadJobModules(o.jobs ?? [], ctx.cwd);
    const level: LogLevel = o.silent ? 'silent' : o.verbose ? 'verbose' : 'info';
    const json = (o['log-format'] ?? (ctx.stderr.isTTY ? 'text' : 'json')) === 'json';
    const logger = createLogger(level, { json, write: (line) => ctx.stderr.write(line + '\n') });
    const store = await openStore(url, storeOptionsFrom(o, logger));
    // Fail fast (exit 69) on an unreachable or unmigrated store rather than log
    // claim errors forever; the supervisor restarts the process. A one-row read by
    // primary key is cheap on any table size.
    try {
      await store.jobs({ limit: 1 });
    } catch (err) {
      await store.close().catch(() => {});
      throw new StoreUnavailableError(redact(url), err);
    }
    return runWorkerProcess(store, {
      jobs,
      logger,
      handleSignals: true,
      ...(o.queue ? { queueName: o.queue } : {}),
      ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
      ...(o['exit-if-no-jobs'] ? { exitIfNoJobs: true } : {}),
      ...(o['exit-after'] !== undefined ? { exitAfterNJobs: o['exit-after'] } : {}),
      ...(o['graceful-shutdown-timeout'] !== undefined ? { gracefulShutdownTimeout: o['graceful-shutdown-timeout'] } : {}),
      ...(o['adjust-priority'] !== undefined ? { adjustPriority: o['adjust-priority'] } : {}),
      ...(o['guarantee-memory-for-job'] !== undefined ? { guaranteeMemoryForJob: o['guarantee-memory-for-job'] } : {}),
      ...(o['wakeup-every'] !== undefined ? { wakeupEvery: o['wakeup-every'] } : {}),
      ...(o['heartbeat-seconds'] !== undefined ? { heartbeatSeconds: o['heartbeat-seconds'] } : {}),
      ...(o['detect-hung-jobs-every'] !== undefined ? { detectHungJobsEvery: o['detect-hung-jobs-every'] } : {}),
      ...(o['no-jitter'] ? { enableJitter: false } : {}),
      ...(o['watch-interval'] !== undefined ? { watchInterval: o['watch-interval'] } : {}),
      ...(o.watch ? { watchFiles: o.watch.map((f) => path.resolve(ctx.cwd, f)) } : {}),
      ...(o['worker-id'] !== undefined ? { workerId: o['worker-id'] } : {}),
    });
  },
});
