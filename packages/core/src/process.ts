/**
 * `runWorkerProcess`: a Worker that owns its process, for runit, systemd, Heroku
 * dynos and any other supervisor that restarts what exits. SPEC section 5.
 *
 * Code-change detection polls `fs.stat` of every source file the process has
 * loaded (outside node_modules). Polling is used rather than `fs.watch` because
 * it behaves the same on every file system (NFS, overlayfs, bind mounts), survives
 * editors and deploy tools that replace files by rename, and costs one stat per
 * file per interval. The loaded files come from three places:
 * - a one-time snapshot of the scripts V8 has compiled, taken through an
 *   in-process inspector session when the runner starts. It is the only way to see
 *   ES modules (and modules compiled by loaders such as tsx) that were imported
 *   before `runWorkerProcess` was called;
 * - a `module.register` load hook installed at start, which reports ES modules
 *   imported later (lazy `import()` inside jobs);
 * - `require.cache`, read at each check, for CommonJS modules.
 */
import { register as registerModuleHooks, createRequire } from 'node:module';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import type { JobRecord } from './types.ts';
import { InvalidArgumentError } from './errors.ts';
import { childLogger, type Logger, resolveLogger } from './logger.ts';
import type { Store } from './store.ts';
import { type StopReason, Worker, type WorkerOptions } from './worker.ts';

/**
 * Exit codes of a worker process, for supervisors (SPEC section 5).
 * - `Stopped` (0): stopped by itself (`exitIfNoJobs`, `exitAfterNJobs`) or by a
 *   signal with every in-flight job finished.
 * - `OutOfMemory` (1): free heap fell below `guaranteeMemoryForJob`; in-flight jobs finished.
 * - `CodeChanged` (2): a source file it loaded changed on disk; in-flight jobs finished.
 * - `JobsInterrupted` (3): a signal's hard path (graceful time up, or SIGINT twice)
 *   retried still-running jobs with mulligan.
 * - `Crashed` (70, EX_SOFTWARE): an uncaught exception or unhandled rejection;
 *   in-flight jobs were retried with mulligan first.
 */
export const WorkerExitCode = {
  Stopped: 0,
  OutOfMemory: 1,
  CodeChanged: 2,
  JobsInterrupted: 3,
  Crashed: 70,
} as const;
/** One of the `WorkerExitCode` values. */
export type WorkerExitCode = (typeof WorkerExitCode)[keyof typeof WorkerExitCode];

/** Options of `runWorkerProcess`: every `WorkerOptions` field, plus process concerns. */
export interface WorkerProcessOptions extends WorkerOptions {
  /** Install handlers for SIGTERM, SIGQUIT, SIGABRT, SIGHUP and SIGINT. @default true */
  handleSignals?: boolean;
  /** A pino-compatible logger or a level name. @default 'info' */
  logger?: WorkerOptions['logger'];
  /**
   * Seconds between checks that the source files this process loaded are unchanged
   * on disk; on a change the worker stops taking jobs, finishes the in-flight ones
   * and exits 2. 0 turns code-change restarts off.
   * @default 1
   */
  watchInterval?: number;
  /** More files to watch besides the loaded modules (a lockfile, a config file, a build stamp). @default [] */
  watchFiles?: readonly string[];
  /**
   * Exit the process with the `WorkerExitCode` once the worker has stopped. With
   * `false` the promise resolves with the code instead and every process-level
   * handler is removed (embedding, tests).
   * @default true
   */
  exitProcess?: boolean;
  /** Close the store (flushing its pending writes) before exiting. @default true */
  closeStore?: boolean;
  /** Called with the Worker before it starts, e.g. to attach event listeners for metrics. @default undefined */
  onWorker?: (worker: Worker) => void;
}

/** Longest wait for `store.close()` and for a stuck store call after a hard stop, in ms. */
const FINAL_WAIT_MS = 5000;
const STOP_SIGNALS = ['SIGTERM', 'SIGQUIT', 'SIGABRT'] as const;
type HandledSignal = (typeof STOP_SIGNALS)[number] | 'SIGHUP' | 'SIGINT';

/**
 * Runs a Worker as the process's main job: installs the signal handlers, restarts
 * (by exiting) on low memory and code changes, logs every job, and exits the
 * process with a `WorkerExitCode` (SPEC section 5):
 *
 * | event | behaviour | exit |
 * |---|---|---|
 * | free heap below `guaranteeMemoryForJob` before a job | finish in-flight jobs | 1 |
 * | a loaded source file changed on disk | finish in-flight jobs | 2 |
 * | SIGTERM / SIGQUIT / SIGABRT | in-flight jobs get `gracefulShutdownTimeout` s, then are retried with mulligan | 0, or 3 if any was retried |
 * | SIGHUP | finish in-flight jobs | 0 |
 * | SIGINT once / twice | finish in-flight jobs / the hard path at once | 0 / 3 |
 *
 * Options are validated before anything happens: bad input rejects with
 * `InvalidArgumentError` and installs nothing.
 *
 * @returns the exit code, only observable with `exitProcess: false`.
 * @example
 * await runWorkerProcess(store, { jobs: [sendEmail], queueName: 'email', concurrency: 4 });
 */
export async function runWorkerProcess(store: Store, options: WorkerProcessOptions): Promise<WorkerExitCode> {
  validateProcessOptions(options);
  const logger = resolveLogger(options.logger, 'info');
  const worker = new Worker(store, { ...options, logger });
  const log = childLogger(logger, { workerId: worker.id });
  const exitProcess = options.exitProcess ?? true;
  const graceSeconds = options.gracefulShutdownTimeout ?? 5;
  const watchMs = (options.watchInterval ?? 1) * 1000;
  options.onWorker?.(worker);
  logJobs(worker, log, options.jobs);

  const watcher = watchMs > 0 ? await LoadedFilesWatcher.create(watchMs, options.watchFiles ?? [], log) : null;

  let phase: 'running' | 'draining' | 'deadline' | 'immediate' = 'running';
  let interrupted = false;
  let crashed = false;
  const shutdowns: Promise<void>[] = [];
  let forceExit: (() => void) | null = null;
  const forced = new Promise<void>((resolve) => (forceExit = resolve));

  const hardStop = (timeoutSeconds: number, reason: StopReason) => {
    const done = worker.shutdown(timeoutSeconds, reason).then(
      (allFinished) => {
        if (!allFinished) interrupted = true;
        // A store call that never returns (a dead connection) must not keep a
        // process that was told to stop alive past what the supervisor expects.
        setTimeout(() => {
          log.error({}, 'worker did not stop after shutdown; exiting anyway');
          forceExit?.();
        }, FINAL_WAIT_MS).unref();
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        interrupted = true;
        forceExit?.();
      },
    );
    shutdowns.push(done);
  };

  const onSignal = (signal: HandledSignal) => {
    if (signal === 'SIGINT') {
      if (phase === 'running') {
        phase = 'draining';
        log.warn({ signal, inFlight: worker.inFlight }, 'stopping after the in-flight jobs; send SIGINT again to stop at once');
        worker.stop('signal');
      } else if (phase !== 'immediate') {
        phase = 'immediate';
        log.warn({ signal, inFlight: worker.inFlight }, 'stopping at once: in-flight jobs are retried with mulligan');
        hardStop(0, 'signal');
      }
      return;
    }
    if (signal === 'SIGHUP') {
      if (phase === 'running') {
        phase = 'draining';
        (worker.inFlight > 0 ? log.warn : log.info).call(log, { signal, inFlight: worker.inFlight }, 'stopping after the in-flight jobs');
        worker.stop('signal');
      }
      return;
    }
    if (phase === 'running' || phase === 'draining') {
      phase = 'deadline';
      // A stop with nothing in flight is routine (deploys, scaling down): no warning.
      (worker.inFlight > 0 ? log.warn : log.info).call(log, { signal, inFlight: worker.inFlight, gracefulShutdownTimeout: graceSeconds }, 'stopping: in-flight jobs get the graceful time, then are retried with mulligan');
      hardStop(graceSeconds, 'signal');
    } else {
      log.info({ signal }, 'already stopping');
    }
  };

  const onCrash = (err: unknown, origin: string) => {
    log.error({ err, origin }, 'uncaught error: retrying in-flight jobs with mulligan and exiting');
    if (crashed) return;
    crashed = true;
    if (phase !== 'immediate') {
      phase = 'immediate';
      hardStop(0, 'shutdown');
    }
  };
  const onUncaught = (err: unknown) => onCrash(err, 'uncaughtException');
  const onUnhandled = (err: unknown) => onCrash(err, 'unhandledRejection');

  const installed: [string, (...args: unknown[]) => void][] = [];
  const on = (event: string, fn: (...args: unknown[]) => void) => {
    try {
      process.on(event as NodeJS.Signals, fn);
      installed.push([event, fn]);
    } catch {
      // Some platforms do not support every signal (Windows has no SIGQUIT): skip it.
    }
  };
  if (options.handleSignals ?? true) {
    for (const s of [...STOP_SIGNALS, 'SIGHUP', 'SIGINT'] as const) on(s, () => onSignal(s));
  }
  if (exitProcess) {
    on('uncaughtException', onUncaught);
    on('unhandledRejection', onUnhandled);
  }

  log.info({ pid: process.pid, watchedFiles: watcher?.size ?? 0 }, 'worker process starting');
  // start() synchronously resets the stop state, so it must run before the
  // watcher or a signal can call stop().
  const started = worker.start();
  watcher?.start((file) => {
    log.warn({ file }, 'source file changed on disk: stopping after the in-flight jobs to restart');
    worker.stop('code-changed');
  });

  try {
    await Promise.race([started, forced]);
    await Promise.race([Promise.all(shutdowns), forced]);
  } catch (err) {
    log.error({ err }, 'worker failed');
    crashed = true;
  }
  watcher?.close();

  const reason = worker.stopReason;
  const code: WorkerExitCode = crashed
    ? WorkerExitCode.Crashed
    : interrupted
      ? WorkerExitCode.JobsInterrupted
      : reason === 'memory'
        ? WorkerExitCode.OutOfMemory
        : reason === 'code-changed'
          ? WorkerExitCode.CodeChanged
          : WorkerExitCode.Stopped;

  if (options.closeStore ?? true) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      store.close().catch((err: unknown) => log.error({ err }, 'closing the store failed')),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          log.error({ timeoutMs: FINAL_WAIT_MS }, 'closing the store timed out');
          resolve();
        }, FINAL_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }
  log.info({ exitCode: code, reason, jobsProcessed: worker.jobsProcessed }, 'worker process exiting');
  if (exitProcess) process.exit(code);
  for (const [event, fn] of installed) process.off(event as NodeJS.Signals, fn);
  return code;
}

function validateProcessOptions(options: WorkerProcessOptions): void {
  if (!options || typeof options !== 'object') throw new InvalidArgumentError('runWorkerProcess needs options with jobs');
  const g = options.guaranteeMemoryForJob;
  if (g !== undefined && (typeof g !== 'number' || !Number.isFinite(g) || g < 0)) {
    throw new InvalidArgumentError(`guaranteeMemoryForJob must be a number of bytes ≥ 0, got ${String(g)}`);
  }
  const p = options.adjustPriority;
  if (p !== undefined && p !== null && (!Number.isInteger(p) || p < -20 || p > 19)) {
    throw new InvalidArgumentError(`adjustPriority must be an integer from -20 to 19, got ${String(p)}`);
  }
  const w = options.watchInterval;
  if (w !== undefined && (typeof w !== 'number' || !Number.isFinite(w) || w < 0)) {
    throw new InvalidArgumentError(`watchInterval must be a number of seconds ≥ 0, got ${String(w)}`);
  }
  const files = options.watchFiles;
  if (files !== undefined && (!Array.isArray(files) || files.some((f) => typeof f !== 'string' || f.length === 0))) {
    throw new InvalidArgumentError('watchFiles must be an array of file paths');
  }
  if (options.onWorker !== undefined && typeof options.onWorker !== 'function') throw new InvalidArgumentError('onWorker must be a function');
}

/** Logs each status change a worker makes: start, completion and parking here; the Worker itself logs retries and failures. */
function logJobs(worker: Worker, log: Logger, jobs: WorkerOptions['jobs']): void {
  const started = new Map<string, number>();
  const describers = new Map(jobs.flatMap((d) => (typeof d.description === 'function' ? [[d.name, d.description as (p: unknown) => string] as const] : [])));
  const fields = (job: JobRecord) => {
    const f: Record<string, unknown> = { jobId: job.id, type: job.type, queue: job.queueName, attempt: job.attemptNumber };
    const describe = describers.get(job.type);
    if (describe) {
      try {
        f.description = describe(job.payload);
      } catch {
        // A description is for humans; a broken one must not break logging.
      }
    }
    return f;
  };
  const took = (job: JobRecord) => {
    const t = started.get(job.id);
    started.delete(job.id);
    return t === undefined ? {} : { durationMs: Math.round(performance.now() - t) };
  };
  worker.on('job:start', (job) => {
    started.set(job.id, performance.now());
    log.info({ ...fields(job), maxAttempts: job.maxAttempts, status: 'running' }, 'job started');
  });
  worker.on('job:complete', (job) => log.info({ ...fields(job), status: 'completed', ...took(job) }, 'job completed'));
  worker.on('job:wait_async', (job) => log.info({ ...fields(job), status: 'wait_async', ...took(job) }, 'job waiting for an async result'));
  // Logged by the Worker already; only the timing bookkeeping is needed.
  worker.on('job:retry', (job) => void took(job));
  worker.on('job:fail', (job) => void took(job));
  worker.on('job:discarded', (job) => void took(job));
}

interface Fingerprint {
  mtimeMs: number;
  size: number;
}

/** ESM load hook, run in Node's hooks thread: reports each module it loads to the main thread. */
const LOAD_HOOK_SOURCE = `
let port;
export function initialize(data) { port = data.port; }
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (port && url.startsWith('file:')) port.postMessage(url);
  return result;
}
`;

/** Polls the fingerprints of the source files this process loaded; see the file comment. */
class LoadedFilesWatcher {
  private readonly known = new Map<string, Fingerprint | null>();
  private readonly discovered = new Set<string>();
  private readonly require = createRequire(import.meta.url);
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private checking = false;
  private closed = false;

  private constructor(
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  static async create(intervalMs: number, extra: readonly string[], log: Logger): Promise<LoadedFilesWatcher> {
    const w = new LoadedFilesWatcher(intervalMs, log);
    for (const f of extra) w.discovered.add(path.resolve(f));
    for (const f of await loadedScripts(log)) w.add(f);
    w.addRequireCache();
    w.installLoadHook();
    await w.check();
    log.debug({ files: [...w.known.keys()] }, 'watching loaded source files for changes');
    return w;
  }

  get size(): number {
    return this.known.size;
  }

  start(onChange: (file: string) => void): void {
    if (this.closed) return;
    const tick = async () => {
      if (this.checking || this.closed) return;
      this.checking = true;
      try {
        const changed = await this.check();
        if (changed && !this.closed) {
          this.close();
          onChange(changed);
        }
      } catch (err) {
        this.log.warn({ err }, 'code-change check failed');
      } finally {
        this.checking = false;
      }
    };
    this.timer = setInterval(() => void tick(), this.intervalMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private add(file: string): void {
    if (!this.known.has(file) && !isDependency(file)) this.discovered.add(file);
  }

  private addRequireCache(): void {
    for (const file of Object.keys(this.require.cache)) this.add(file);
  }

  private installLoadHook(): void {
    const listener = (file: string) => this.add(file);
    if (subscribeToLoads(listener, this.log)) this.unsubscribe = () => loadListeners.delete(listener);
  }

  /** Records fingerprints of newly discovered files; returns the first known file that changed, if any. */
  private async check(): Promise<string | null> {
    this.addRequireCache();
    const fresh = [...this.discovered];
    this.discovered.clear();
    for (const [file, fp] of await fingerprints(fresh)) {
      if (this.known.has(file)) continue;
      this.known.set(file, fp);
      if (this.timer) this.log.debug({ file }, 'watching a newly loaded source file');
    }
    const files = [...this.known.keys()];
    for (const [file, fp] of await fingerprints(files)) {
      const before = this.known.get(file);
      if (before === undefined) continue;
      if (before === null ? fp !== null : fp === null || fp.mtimeMs !== before.mtimeMs || fp.size !== before.size) return file;
    }
    return null;
  }
}

/**
 * One load hook per process, however many runners start in it (tests, embedding):
 * hooks cannot be unregistered, so each runner subscribes to the one channel. The
 * port stays open but unref'd when nobody listens.
 */
const loadListeners = new Set<(file: string) => void>();
let hookState: 'none' | 'installed' | 'unavailable' = 'none';

function subscribeToLoads(listener: (file: string) => void, log: Logger): boolean {
  if (hookState === 'none') {
    hookState = 'unavailable';
    if (typeof registerModuleHooks === 'function') {
      try {
        const { port1, port2 } = new MessageChannel();
        registerModuleHooks(`data:text/javascript,${encodeURIComponent(LOAD_HOOK_SOURCE)}`, { data: { port: port2 }, transferList: [port2] });
        port1.on('message', (url: unknown) => {
          const file = typeof url === 'string' ? toFilePath(url) : null;
          if (file && !isDependency(file)) for (const l of loadListeners) l(file);
        });
        port1.unref();
        hookState = 'installed';
      } catch (err) {
        log.debug({ err }, 'no ES module load hook: modules imported from now on are not watched');
      }
    }
  }
  if (hookState !== 'installed') return false;
  loadListeners.add(listener);
  return true;
}

async function fingerprints(files: readonly string[]): Promise<[string, Fingerprint | null][]> {
  const out: [string, Fingerprint | null][] = [];
  // Bounded batches: thousands of parallel stats would only queue up in libuv's pool.
  for (let i = 0; i < files.length; i += 64) {
    const batch = files.slice(i, i + 64);
    const stats = await Promise.all(batch.map((f) => stat(f).then((s) => ({ mtimeMs: s.mtimeMs, size: s.size }), () => null)));
    batch.forEach((f, j) => out.push([f, stats[j] ?? null]));
  }
  return out;
}

/**
 * Every script V8 has compiled so far, through a short-lived in-process inspector
 * session: enabling the Debugger domain replays a `scriptParsed` event for each.
 * Enabling it deoptimises compiled code once, which is why this runs once at start
 * and never again. Without an inspector (a Node built without it) the list is empty.
 */
async function loadedScripts(log: Logger): Promise<string[]> {
  let inspector: typeof import('node:inspector');
  try {
    inspector = await import('node:inspector');
  } catch {
    return [];
  }
  const urls: string[] = [];
  const session = new inspector.Session();
  try {
    session.connect();
    session.on('Debugger.scriptParsed', (m) => urls.push(m.params.url));
    await new Promise<void>((resolve, reject) => session.post('Debugger.enable', (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve) => session.post('Debugger.disable', () => resolve()));
  } catch (err) {
    log.debug({ err }, 'could not list loaded modules through the inspector');
  } finally {
    session.disconnect();
  }
  const files = new Set<string>();
  for (const url of urls) {
    const file = toFilePath(url);
    if (file && !isDependency(file)) files.add(file);
  }
  return [...files];
}

function toFilePath(url: string): string | null {
  if (url.startsWith('file:')) {
    try {
      // Loaders such as tsx tag URLs with a query; the file is what matters.
      return fileURLToPath(url.replace(/[?#].*$/, ''));
    } catch {
      return null;
    }
  }
  return path.isAbsolute(url) ? url : null;
}

function isDependency(file: string): boolean {
  return /[\\/]node_modules[\\/]/.test(file);
}
