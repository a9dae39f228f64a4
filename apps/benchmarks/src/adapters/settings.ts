import type { AdapterName } from './types.ts';

const OUR_WORKER =
  "Worker({ concurrency: 10, enableJitter: false, logger: 'silent' }), other options default (wakeupEvery 5 s fallback poll, heartbeatSeconds 10, detectHungJobsEvery 15); jobs with default options (deleteOnComplete true, maxAttempts 1); enqueue: store.enqueue / store.enqueueMany";

/** Every setting each adapter runs with, as printed in the report. Anything not named is the library's default. */
export const SETTINGS: Record<AdapterName, string> = {
  'jqjobs-memory': `new MemoryStore({ logger: 'silent' }); ${OUR_WORKER}`,
  'jqjobs-postgres': `new PostgresStore({ connectionString }) with default pool, schema and table; migrate(); ${OUR_WORKER}`,
  'jqjobs-redis': `new RedisStore({ url }, { prefix: 'jqbench' }); ${OUR_WORKER}`,
  'graphile-worker':
    'run({ connectionString, taskList, concurrency: 10, noHandleSignals: true }) — defaults otherwise: maxPoolSize 10, pollInterval 2000 ms plus LISTEN/NOTIFY, localQueue off, completeJobBatchDelay off, prepared statements on; enqueue: makeWorkerUtils().addJob / addJobs (migrate() at setup)',
  'pg-boss':
    'new PgBoss({ connectionString }) — defaults otherwise: pool max 10, pollingIntervalSeconds 2, supervise and monitoring on, completed jobs kept; createQueue(name) (policy standard); work(name, { batchSize: 10 }, jobs => Promise.all(jobs.map(run))) as its concurrency 10 (v10 has no teamSize); enqueue: send / insert',
  bullmq:
    'new Queue(name, { connection: { host, port, db } }), new Worker(name, processor, { connection, concurrency: 10 }) — defaults otherwise: removeOnComplete off (completed jobs kept), events stream maxLen 10000, stalledInterval 30 s, drainDelay 5 s; enqueue: queue.add / addBulk',
  'bee-queue':
    "producer new Queue(name, { redis, isWorker: false, getEvents: false }) as its README recommends for producers; worker new Queue(name, { redis }) with defaults (getEvents, sendEvents and storeJobs on, removeOnSuccess off, stallInterval 5 s) and process(10, handler); enqueue: createJob(data).save() / saveAll",
};
