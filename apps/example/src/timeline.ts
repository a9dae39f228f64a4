// A readable log of what happens to jobs and requests. Stores report status
// changes only in the process that made them, so the worker process sends its
// events here over IPC (workers.ts) and the web process adds its own.
import type { JobDefinition, JobRecord, JobStatus } from '@jqjobs/core';

export type EventKind =
  | 'enqueued'
  | 'coalesced'
  | 'started'
  | 'retried'
  | 'waiting'
  | 'webhook'
  | 'completed'
  | 'failed'
  | 'requeued'
  | 'http'
  | 'autoscaler'
  | 'worker'
  | 'note';

export interface TimelineEvent {
  /** Epoch ms. */
  at: number;
  kind: EventKind;
  jobId?: string;
  jobType?: string;
  /** The job's status before and after the event, for job events. */
  from?: JobStatus;
  status?: JobStatus;
  text: string;
}

/** Turns a store status change into a timeline event; null for changes not worth a line. */
export function jobEvent(job: JobRecord, oldStatus: JobStatus, message: string | null, defs: readonly JobDefinition<never>[]): TimelineEvent | null {
  const now = Date.now();
  const base = { at: now, jobId: job.id, jobType: job.type, from: oldStatus, status: job.status };
  const what = `#${job.id} ${describeJob(job, defs)}`;
  const attempt = `attempt ${job.attemptNumber}/${job.maxAttempts}`;
  switch (job.status) {
    case 'queued': {
      if (oldStatus === 'unqueued') {
        const wait = job.startAt ? job.startAt.getTime() - now : 0;
        const later = wait > 50 ? `, starts in ${seconds(wait)}` : '';
        return { ...base, kind: 'enqueued', text: `${what} (queue ${job.queueName}, priority ${job.priority}${later})` };
      }
      if (oldStatus === 'running') {
        const wait = job.startAt ? Math.max(0, job.startAt.getTime() - now) : 0;
        return { ...base, kind: 'retried', text: `${what}: ${message ?? job.errorMessage ?? 'failed'} (attempt ${job.attemptNumber} of ${job.maxAttempts}); retrying in ${seconds(wait)}` };
      }
      return { ...base, kind: 'requeued', text: `${what} back in the queue (was ${oldStatus})` };
    }
    case 'running':
      return { ...base, kind: 'started', text: `${what} (${attempt})` };
    case 'wait_async':
      return { ...base, kind: 'waiting', text: `${what}: parked until the payment provider calls the webhook` };
    case 'completed':
      return { ...base, kind: 'completed', text: oldStatus === 'wait_async' ? `${what} (resolved by the webhook)` : what };
    case 'failed':
      return { ...base, kind: 'failed', text: `${what}: ${message ?? job.errorMessage ?? 'failed'}` };
    default:
      return null;
  }
}

function describeJob(job: JobRecord, defs: readonly JobDefinition<never>[]): string {
  const def = defs.find((d) => d.name === job.type);
  try {
    return def?.description?.(job.payload as never) ?? job.type;
  } catch {
    return job.type; // a description is for humans; a broken one must not break logging
  }
}

function seconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 2 * 3600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 2 * 86400_000) return `${Math.round(ms / 3600_000)} h`;
  return `${Math.round(ms / 86400_000)} days`;
}

export class Timeline {
  readonly events: TimelineEvent[] = [];
  readonly startedAt = Date.now();
  private readonly listeners = new Set<() => void>();

  /** @param print where lines go as events arrive; null keeps them only in `events` until `printTo`. */
  constructor(private print: ((line: string) => void) | null = (line) => console.log(line)) {}

  /** Prints the events so far, then each new one (so a caller can print a header first). */
  printTo(print: (line: string) => void): void {
    this.print = print;
    for (const e of this.events) print(this.format(e));
  }

  add(event: TimelineEvent): void {
    this.events.push(event);
    this.print?.(this.format(event));
    for (const l of this.listeners) l();
  }

  note(kind: EventKind, text: string, job?: { id: string; type: string }): void {
    this.add({ at: Date.now(), kind, text, ...(job ? { jobId: job.id, jobType: job.type } : {}) });
  }

  format(e: TimelineEvent): string {
    return `${((e.at - this.startedAt) / 1000).toFixed(3).padStart(8)}s  ${e.kind.padEnd(10)} ${e.text}`;
  }

  /** The last status each job was seen in. */
  lastStatus(): Map<string, { jobType: string; status: JobStatus }> {
    const out = new Map<string, { jobType: string; status: JobStatus }>();
    for (const e of this.events) {
      if (!e.jobId || !e.jobType || !e.status) continue;
      // Events from two processes can arrive out of order (a webhook may complete
      // a job before the worker's "waiting" arrives over IPC): a finished job
      // only moves on by an event that starts from that end state (a restart).
      const prev = out.get(e.jobId)?.status;
      if ((prev === 'completed' || prev === 'failed') && e.from !== prev) continue;
      out.set(e.jobId, { jobType: e.jobType, status: e.status });
    }
    return out;
  }

  count(kind: EventKind): number {
    return this.events.filter((e) => e.kind === kind).length;
  }

  /** Resolves once `check()` holds, re-checking on every event; rejects after `timeoutMs` (a hang guard). */
  waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const listener = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }
}
