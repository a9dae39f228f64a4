import type { AdapterName, QueueAdapter, Target } from './types.ts';

/**
 * Loads an adapter's module on demand, so a measurement process holds only the
 * client library it measures (heap, timers and CPU of the others stay out).
 */
export async function createAdapter(name: AdapterName, target: Target): Promise<QueueAdapter> {
  switch (name) {
    case 'jqjobs-memory':
      return new (await import('./jqjobs.ts')).JQJobsMemoryAdapter();
    case 'jqjobs-postgres':
      return new (await import('./jqjobs-postgres.ts')).JQJobsPostgresAdapter(target);
    case 'jqjobs-redis':
      return new (await import('./jqjobs-redis.ts')).JQJobsRedisAdapter(target);
    case 'graphile-worker':
      return new (await import('./graphile-worker.ts')).GraphileWorkerAdapter(target);
    case 'pg-boss':
      return new (await import('./pg-boss.ts')).PgBossAdapter(target);
    case 'bullmq':
      return new (await import('./bullmq.ts')).BullMQAdapter(target);
    case 'bee-queue':
      return new (await import('./bee-queue.ts')).BeeQueueAdapter(target);
  }
}
