/**
 * A deferred task ran longer than `taskTimeoutMs`. The attempt is failed (and
 * retried when attempts remain); the task's own promise is left to settle on its
 * own, since JavaScript cannot cancel it. Job types get an aborted `ctx.signal`.
 */
export class TaskTimeoutError extends Error {
  /** Stable machine-readable code. */
  readonly code = 'JQ_DELAYED_TASK_TIMEOUT' as const;
  /** The task's name: the function's name or the job type. */
  readonly task: string;
  readonly timeoutMs: number;
  constructor(task: string, timeoutMs: number) {
    super(`Deferred task ${JSON.stringify(task)} did not finish within ${timeoutMs} ms`);
    this.name = 'TaskTimeoutError';
    this.task = task;
    this.timeoutMs = timeoutMs;
  }
}
