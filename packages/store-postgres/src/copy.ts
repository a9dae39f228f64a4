/**
 * `COPY … FROM STDIN` for big enqueue batches: PostgreSQL inserts the rows page by
 * page (one WAL record per page instead of one per row) and parses no JSON, which
 * roughly halves the server's work per job. node-postgres has no COPY API of its
 * own; a "submittable" (the extension point pg-cursor and pg-copy-streams use)
 * drives the protocol: send the statement, stream the data when the server asks
 * for it, finish at ReadyForQuery.
 */
import type pg from 'pg';
import type { NewJob } from '@jqjobs/core';

/** The parts of pg's connection a COPY needs. */
interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
}

class CopyFromStdin {
  private settled = false;
  private error: Error | null = null;
  /** Set by pg when it wraps the query (e.g. for query_timeout): must be called once, like pg's own queries do. */
  callback?: (err: Error | null) => void;

  constructor(
    private readonly text: string,
    private readonly chunks: readonly string[],
    private readonly sent: () => void,
    private readonly done: (err: Error | null) => void,
  ) {}

  submit(connection: CopyConnection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: CopyConnection): void {
    try {
      for (const chunk of this.chunks) connection.sendCopyFromChunk(Buffer.from(chunk, 'utf8'));
      connection.endCopyFrom();
    } catch (err) {
      this.error = err instanceof Error ? err : new Error(String(err));
      connection.sendCopyFail(this.error.message);
    }
    this.sent();
  }

  handleError(err: Error): void {
    this.error ??= err;
    this.sent();
    // A lost connection never sends ReadyForQuery.
    this.finish();
  }

  handleReadyForQuery(): void {
    this.finish();
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleCopyData(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  private finish(): void {
    if (this.settled) return;
    this.settled = true;
    this.callback?.(this.error);
    this.done(this.error);
  }
}

/**
 * Runs `COPY … FROM STDIN` on `client` with the given data. `sent` resolves once
 * the data is on its way (the server is busy from then on: a good moment for other
 * work), `done` when the server has finished (or failed).
 */
export function copyFrom(client: pg.PoolClient, text: string, chunks: readonly string[]): { sent: Promise<void>; done: Promise<void> } {
  let markSent!: () => void;
  const sent = new Promise<void>((r) => (markSent = r));
  const done = new Promise<void>((resolve, reject) => {
    const copy = new CopyFromStdin(text, chunks, markSent, (err) => (err ? reject(err) : resolve()));
    client.query(copy as unknown as pg.Submittable);
  });
  return { sent, done };
}

/** Columns of the COPY rows, `id` last (it is known only after the rest is encoded). */
export const COPY_COLUMNS = 'type, queue_name, priority, payload, max_attempts, delete_on_complete, max_runtime_seconds, backoff, created_at, start_at, run_at, status, id';

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** COPY text format: backslash, tab, newline and carriage return are escaped. */
function copyText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** ISO-8601 with a 4-digit year, or null when `toISOString` would write an expanded year PostgreSQL cannot read. */
export function copyTimestamp(ms: number): string | null {
  const s = new Date(ms).toISOString();
  return s.length === 24 ? s : null;
}

/** True when every job of the batch can go through COPY (no coalesce ids, start times COPY can write). */
export function copyable(jobs: readonly NewJob[]): boolean {
  for (const j of jobs) {
    if (j.coalesceId !== null) return false;
    if (j.startAt !== null && copyTimestamp(j.startAt.getTime()) === null) return false;
  }
  return true;
}

/**
 * Each job's COPY row without its id: `…\t` ready for the id and a newline.
 * Type and queue names repeat across a batch, so their escaped forms are cached.
 */
export function encodeCopyRows(jobs: readonly NewJob[], nowIso: string): string[] {
  const cache = new Map<string, string>();
  const esc = (s: string) => {
    let e = cache.get(s);
    if (e === undefined) cache.set(s, (e = copyText(s)));
    return e;
  };
  const rows: string[] = new Array(jobs.length);
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i]!;
    const payload = j.payloadJson.includes('\\') ? j.payloadJson.replaceAll('\\', '\\\\') : j.payloadJson;
    const start = j.startAt === null ? nowIso : copyTimestamp(j.startAt.getTime())!;
    rows[i] =
      `${esc(j.type)}\t${esc(j.queueName)}\t${j.priority}\t${payload}\t${j.maxAttempts}\t${j.deleteOnComplete ? 't' : 'f'}\t` +
      `${j.maxRuntimeSeconds === null ? '\\N' : j.maxRuntimeSeconds}\t${j.backoff === null ? '\\N' : copyText(JSON.stringify(j.backoff))}\t` +
      `${nowIso}\t${start}\t${start}\tqueued\t`;
  }
  return rows;
}
