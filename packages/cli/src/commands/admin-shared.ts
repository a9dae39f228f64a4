/**
 * What the admin commands (stats, list, show, restart, retry, delete, resolve,
 * detect-hung, migrate, admin) share: opening the store, error mapping, human
 * tables, confirmation and progress for bulk forms.
 *
 * Exit codes: 0 done; 1 the operation failed or was declined (a locked job, a
 * resolver that threw, some jobs of a bulk action failed); 64 bad input — a
 * malformed option, no such job, a job in the wrong status, malformed JSON, an
 * unknown store URL — and then nothing was changed. The dispatcher adds 69 (the
 * store is unreachable) and 70 (a bug).
 */
import { createInterface } from 'node:readline';
import {
  ALL_STATUSES,
  createLogger,
  InvalidStateError,
  JobLockedError,
  JobNotFoundError,
  type JobFilter,
  type JobRecord,
  type JobStatus,
  type Store,
} from '@jqjobs/core';
import type { OptionSpecs, ParsedOptions } from '../args.ts';
import type { CommandContext, Output } from '../command.ts';
import { StoreUnavailableError, UsageError } from '../errors.ts';
import { openStore, redact, storeKind, storeOptionSpecs, storeOptionsFrom } from '../open-store.ts';

/** The operation was attempted and did not succeed (or the user declined it). Exit 1. */
export class OperationFailedError extends Error {
  readonly exitCode = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OperationFailedError';
  }
}

export const jsonOption = { json: { type: 'boolean', description: 'print JSON for scripts instead of a table' } } as const satisfies OptionSpecs;

/** `--status` as a list filter (repeatable). */
export const ALL_STATUSES_OPTION = {
  type: 'string',
  short: 's',
  valueName: '<status>',
  choices: ALL_STATUSES,
  multiple: true,
  description: `only jobs in this status (${ALL_STATUSES.join(', ')})`,
} as const;

export const bulkOptions = {
  queue: { type: 'string', short: 'q', valueName: '<name>', description: 'bulk form: every job of this queue (with --status: of both)' },
  status: { type: 'string', short: 's', valueName: '<status>', choices: ALL_STATUSES, multiple: true, description: 'bulk form: every job in this status' },
  yes: { type: 'boolean', short: 'y', description: 'bulk form: do not ask for confirmation (needed without a terminal)' },
  concurrency: { type: 'integer', min: 1, max: 64, valueName: '<n>', description: 'bulk form: jobs changed at once', defaultText: '8' },
} as const satisfies OptionSpecs;

type StoreOptions = ParsedOptions<typeof storeOptionSpecs>;

/**
 * Opens the store named by `--store`, checks it answers (so an unreachable or
 * unmigrated store is one clear line, exit 69), runs `fn`, and closes it.
 */
export async function withStore<T>(o: StoreOptions, ctx: CommandContext, fn: (store: Store) => Promise<T>, options: { probe?: boolean } = {}): Promise<T> {
  const url = o.store;
  if (url === undefined) throw new UsageError('--store is required');
  storeKind(url);
  const logger = createLogger('warn', { write: (line) => ctx.stderr.write(line + '\n') });
  const store = await openStore(url, storeOptionsFrom(o, logger));
  try {
    if (options.probe ?? true) {
      try {
        await store.jobs({ limit: 1 });
      } catch (err) {
        throw new StoreUnavailableError(redact(url), err);
      }
    }
    return await fn(store);
  } finally {
    await store.close().catch(() => {});
  }
}

/**
 * Turns the store's errors about one job into the CLI's: a missing job or a job
 * in the wrong status is bad input (64, nothing changed); a locked job is a
 * failure worth retrying (1).
 */
export function jobError(err: unknown, hint = ''): unknown {
  if (err instanceof JobNotFoundError) return new UsageError(`no such job: ${err.jobId}`);
  if (err instanceof InvalidStateError) return new UsageError(`job ${err.jobId} is ${err.status}${hint ? `; ${hint}` : ''}`);
  if (err instanceof JobLockedError) return new OperationFailedError(`job ${err.jobId} is locked by another holder (an admin action or a wait-async resolution in progress); try again`);
  return err;
}

/** Job data shown in a terminal must not drive it: control characters (ANSI escapes, CR) become visible escapes. */
export function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => (c === '\n' ? '⏎' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** Like `clean`, keeping line breaks (for multi-line payloads and errors). */
export function cleanBlock(text: string): string {
  return text.split('\n').map(clean).join('\n');
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function formatTime(d: Date | null): string {
  return d === null ? '—' : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function formatAge(ms: number | null): string {
  if (ms === null) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * An aligned text table. `right` lists the columns aligned right (numbers).
 * Cells are cleaned of control characters.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], right: ReadonlySet<number> = new Set()): string {
  const cells = rows.map((r) => r.map((c) => clean(c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** The filter of a bulk form, or null when neither --queue nor --status was given. */
export function bulkFilter(o: { queue?: string; status?: string[] }): JobFilter | null {
  if (o.queue === undefined && o.status === undefined) return null;
  return { ...(o.queue !== undefined ? { queueName: o.queue } : {}), ...(o.status !== undefined ? { status: o.status as JobStatus[] } : {}) };
}

export function describeFilter(f: JobFilter): string {
  const parts: string[] = [];
  if (f.queueName !== undefined) parts.push(`queue ${JSON.stringify(f.queueName)}`);
  if (f.status !== undefined) parts.push(`status ${(typeof f.status === 'string' ? [f.status] : f.status).join('|')}`);
  return parts.join(', ');
}

/**
 * Ids of every job matching `filter`, read before anything changes: acting on a
 * snapshot keeps offset paging from skipping jobs that the action moves out of
 * the filter.
 */
export async function collectIds(store: Store, filter: JobFilter): Promise<string[]> {
  const ids: string[] = [];
  const page = 1000;
  for (let offset = 0; ; offset += page) {
    const jobs = await store.jobs({ ...filter, limit: page, offset });
    for (const j of jobs) ids.push(j.id);
    if (jobs.length < page) return ids;
  }
}

/** Where confirmation answers come from; the process's stdin unless a test passes one. */
export interface Prompter {
  isTTY: boolean;
  ask(question: string): Promise<string>;
}

let prompter: Prompter | null = null;

/** For tests: answer prompts without a terminal. Pass null to restore stdin. */
export function setPrompter(p: Prompter | null): void {
  prompter = p;
}

function stdinPrompter(stderr: Output): Prompter {
  return {
    isTTY: process.stdin.isTTY === true,
    ask: (question) =>
      new Promise((resolve) => {
        const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: stderr.isTTY === true });
        rl.question(question, (answer) => {
          rl.close();
          resolve(answer);
        });
        rl.once('close', () => resolve(''));
      }),
  };
}

/**
 * Asks before a bulk change. Without a terminal to ask on and without --yes the
 * command refuses (exit 64) rather than act unattended.
 * @throws UsageError — no terminal and no --yes. OperationFailedError — declined.
 */
export async function confirmBulk(ctx: CommandContext, what: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  const p = prompter ?? stdinPrompter(ctx.stderr);
  if (!p.isTTY) throw new UsageError(`refusing to ${what} without confirmation: no terminal to ask on; pass --yes`);
  const answer = (await p.ask(`${what}? [y/N] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') throw new OperationFailedError('aborted: nothing was changed');
}

/** A progress bar on stderr: redrawn in place on a terminal, a line per 10 % otherwise. */
export class Progress {
  private done = 0;
  private lastDraw = 0;
  private lastDecile = 0;

  constructor(
    private readonly out: Output,
    private readonly label: string,
    private readonly total: number,
  ) {
    if (out.isTTY) this.draw();
  }

  tick(): void {
    this.done++;
    if (this.out.isTTY) {
      const now = Date.now();
      // Redrawing on every job would cost more than the jobs on a fast store.
      if (now - this.lastDraw >= 100 || this.done === this.total) this.draw();
      return;
    }
    const decile = Math.floor((this.done * 10) / this.total);
    if (decile > this.lastDecile && this.total >= 20) {
      this.lastDecile = decile;
      this.out.write(`${this.label}: ${this.done}/${this.total}\n`);
    }
  }

  finish(): void {
    if (this.out.isTTY) {
      this.draw();
      this.out.write('\n');
    }
  }

  private draw(): void {
    this.lastDraw = Date.now();
    const width = 30;
    const filled = this.total === 0 ? width : Math.round((this.done / this.total) * width);
    this.out.write(`\r${this.label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${this.done}/${this.total}`);
  }
}

export interface BulkResult {
  done: string[];
  /** Jobs that no longer qualified when their turn came (deleted, or moved out of the required status meanwhile). */
  skipped: string[];
  failed: { id: string; error: string }[];
}

/**
 * Applies `action` to each id with bounded concurrency, with a progress bar.
 * `action` returns false to report a skip; a throw is recorded as a failure and
 * the others go on.
 */
export async function runBulk(ctx: CommandContext, label: string, ids: readonly string[], concurrency: number, action: (id: string) => Promise<boolean>): Promise<BulkResult> {
  const result: BulkResult = { done: [], skipped: [], failed: [] };
  const progress = new Progress(ctx.stderr, label, ids.length);
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const id = ids[next++] as string;
      try {
        if (await action(id)) result.done.push(id);
        else result.skipped.push(id);
      } catch (err) {
        if (err instanceof JobNotFoundError || err instanceof InvalidStateError) result.skipped.push(id);
        else result.failed.push({ id, error: err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err) });
      }
      progress.tick();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, ids.length)) }, lane));
  progress.finish();
  const order = new Map(ids.map((id, i) => [id, i]));
  const byInput = (a: string, b: string) => (order.get(a) ?? 0) - (order.get(b) ?? 0);
  result.done.sort(byInput);
  result.skipped.sort(byInput);
  result.failed.sort((a, b) => byInput(a.id, b.id));
  return result;
}

export interface ActionSpec {
  /** Verb for messages: "restart". */
  verb: string;
  /** Past tense: "restarted". */
  past: string;
  /** Checks one job before anything changes; throws UsageError (via jobError) when it does not qualify. */
  check?(job: JobRecord): void;
  /** Applies the action; false = skipped (no longer qualifies). */
  apply(store: Store, id: string): Promise<boolean>;
  /** Extra filter every bulk selection must have, e.g. retry's status failed. */
  requiredFilter?: JobFilter;
}

type ActionOptions = StoreOptions & ParsedOptions<typeof bulkOptions> & ParsedOptions<typeof jsonOption>;

/**
 * The shared body of restart, retry and delete: `<id>…` (every id checked
 * first, so a bad one changes nothing) or the bulk form `--queue/--status`
 * (confirmation, progress, a summary).
 */
export async function runJobAction(spec: ActionSpec, o: ActionOptions, positionals: readonly string[], ctx: CommandContext): Promise<number> {
  const filter = bulkFilter(o);
  if (filter && positionals.length) throw new UsageError(`give job ids or --queue/--status, not both`);
  if (!filter && !positionals.length) throw new UsageError(`which jobs? give job ids, or --queue and/or --status for the bulk form`);
  if (!filter && (o.yes || o.concurrency !== undefined)) throw new UsageError('--yes and --concurrency apply to the bulk form (--queue/--status) only');
  const ids = [...new Set(positionals)];
  for (const id of ids) if (id.trim() === '') throw new UsageError('a job id must not be empty');
  return withStore(o, ctx, async (store) => {
    let targets: string[];
    if (filter) {
      const full = { ...filter, ...spec.requiredFilter };
      targets = await collectIds(store, full);
      if (targets.length === 0) {
        if (o.json) printJson(ctx, { action: spec.verb, matched: 0, done: [], skipped: [], failed: [] });
        else ctx.stderr.write(`no jobs match ${describeFilter(full)}; nothing to ${spec.verb}\n`);
        return 0;
      }
      await confirmBulk(ctx, `${spec.verb} ${targets.length} job${targets.length === 1 ? '' : 's'} (${describeFilter(full)})`, o.yes);
    } else {
      // Check every job before changing any: one bad id means nothing is changed.
      for (const id of ids) {
        try {
          const job = await store.get(id);
          spec.check?.(job);
        } catch (err) {
          throw jobError(err);
        }
      }
      targets = ids;
    }
    const result = filter ? await runBulk(ctx, spec.verb, targets, o.concurrency ?? 8, (id) => spec.apply(store, id)) : await applyEach(spec, store, targets);
    if (o.json) {
      printJson(ctx, { action: spec.verb, matched: targets.length, ...result });
    } else {
      if (!filter) for (const id of result.done) ctx.stdout.write(`${spec.past} job ${clean(id)}\n`);
      if (filter || result.skipped.length || result.failed.length) {
        const parts = [`${spec.past} ${result.done.length} of ${targets.length} job${targets.length === 1 ? '' : 's'}`];
        if (result.skipped.length) parts.push(`${result.skipped.length} skipped (changed or gone meanwhile)`);
        if (result.failed.length) parts.push(`${result.failed.length} failed`);
        ctx.stdout.write(parts.join(', ') + '\n');
        for (const f of result.failed.slice(0, 20)) ctx.stderr.write(`job ${clean(f.id)}: ${clean(f.error)}\n`);
        if (result.failed.length > 20) ctx.stderr.write(`… and ${result.failed.length - 20} more failures\n`);
      }
    }
    if (result.failed.length) {
      throw new OperationFailedError(`${result.failed.length} of ${targets.length} job${targets.length === 1 ? '' : 's'} could not be ${spec.past}`);
    }
    return 0;
  });
}

async function applyEach(spec: ActionSpec, store: Store, ids: readonly string[]): Promise<BulkResult> {
  const result: BulkResult = { done: [], skipped: [], failed: [] };
  for (const id of ids) {
    try {
      if (await spec.apply(store, id)) result.done.push(id);
      else result.skipped.push(id);
    } catch (err) {
      // Checked a moment ago; a change since then is a failure of this run, not bad input.
      const mapped = jobError(err);
      if (ids.length === 1) throw mapped instanceof UsageError ? new OperationFailedError(mapped.message) : mapped;
      result.failed.push({ id, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return result;
}
