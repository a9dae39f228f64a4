import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, resolveLogger } from '@jqjobs/core';
import { Autoscaler, type AutoscalerStore } from './autoscaler.ts';
import { InvalidAutoscalerConfigError } from './errors.ts';
import type { AutoscalerOptions } from './options.ts';
import { resolveAutoscalerOptions } from './options.ts';
import type { Scalable } from './scalable.ts';
import { isPlainObject } from './validate.ts';

/** A whole autoscaler process: the store, the scaler and the options. What a config file exports. */
export interface AutoscalerConfig extends AutoscalerOptions {
  /** The store to read (any JQJobs store). `runAutoscaler` closes it when it stops. */
  store: AutoscalerStore & { close?(): Promise<void> };
  /** The driver: a `HerokuScaler`, an `AwsAutoScalingGroupScaler`, a `ChimeraScaler`, a `NoopScaler`… */
  scaler: Scalable;
}

/** Types a config file's default export; returns it unchanged. */
export function defineAutoscalerConfig(config: AutoscalerConfig): AutoscalerConfig {
  return config;
}

/**
 * Checks a config object the way `new Autoscaler` would, without starting
 * anything. @throws InvalidAutoscalerConfigError
 */
export function validateAutoscalerConfig(config: unknown): AutoscalerConfig {
  if (!isPlainObject(config)) throw new InvalidAutoscalerConfigError('config', 'expected an object { store, scaler, queues, … }');
  const { store, scaler, ...options } = config;
  if (store === null || typeof store !== 'object' || typeof (store as AutoscalerStore).stats !== 'function') {
    throw new InvalidAutoscalerConfigError('store', 'expected a JQJobs store (e.g. new PostgresStore({ connectionString }))');
  }
  if (scaler === null || typeof scaler !== 'object' || typeof (scaler as Scalable).countCurrentWorkersForQueue !== 'function') {
    throw new InvalidAutoscalerConfigError('scaler', 'expected a Scalable (e.g. new HerokuScaler({ app, token }))');
  }
  resolveAutoscalerOptions(options);
  return config as unknown as AutoscalerConfig;
}

/**
 * Loads an autoscaler config file: an ES module (`.mjs`, or `.js` in a
 * `"type": "module"` package) whose default export is an `AutoscalerConfig`, or
 * a function (possibly async) returning one. The file builds the store and the
 * scaler itself, so secrets come from its own environment.
 *
 * @example
 * // autoscaler.config.mjs
 * import { PostgresStore } from '@jqjobs/store-postgres';
 * import { HerokuScaler } from '@jqjobs/autoscaler-heroku';
 * export default {
 *   store: new PostgresStore({ connectionString: process.env.DATABASE_URL }),
 *   scaler: new HerokuScaler({ app: 'my-app', token: process.env.HEROKU_API_TOKEN }),
 *   queues: { email: { scalingAlgorithm: 'linear', maxConcurrency: 10 } },
 * };
 * @throws InvalidAutoscalerConfigError — the file is missing, does not load, or its config is invalid.
 */
export async function loadAutoscalerConfig(path: string): Promise<AutoscalerConfig> {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidAutoscalerConfigError('config', 'expected the path of a config file');
  const file = resolve(path);
  try {
    await access(file);
  } catch {
    throw new InvalidAutoscalerConfigError('config', `file not found: ${file}`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (err) {
    const e = new InvalidAutoscalerConfigError('config', `${file} could not be loaded: ${err instanceof Error ? err.message : String(err)}`);
    Object.defineProperty(e, 'cause', { value: err, enumerable: false, configurable: true, writable: true });
    throw e;
  }
  let config: unknown = mod.default;
  if (config === undefined) throw new InvalidAutoscalerConfigError('config', `${file} has no default export`);
  if (typeof config === 'function') config = await (config as () => unknown)();
  return validateAutoscalerConfig(config);
}

/** Options of `runAutoscaler`. */
export interface RunAutoscalerOptions {
  /** Stop gracefully on SIGTERM, SIGINT, SIGHUP and SIGQUIT. @default true */
  handleSignals?: boolean;
  /** Stops the autoscaler when aborted. */
  signal?: AbortSignal;
  /** Close the config's store after stopping. @default true */
  closeStore?: boolean;
  /** Called with the autoscaler before it starts (e.g. to subscribe to its events). */
  onStart?: (autoscaler: Autoscaler) => void;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];

/**
 * Runs an autoscaler as a supervised process (runit, systemd, a Heroku dyno):
 * builds it from the config, runs it until a signal (or `signal`), finishes the
 * tick in flight, releases the lease, closes the store. Resolves with the exit
 * code: 0 after a clean stop, 1 when the loop failed. Logs at `info` unless the
 * config sets `logger`.
 *
 * @example
 * process.exitCode = await runAutoscaler(await loadAutoscalerConfig('autoscaler.config.mjs'));
 * @throws InvalidAutoscalerConfigError | InvalidArgumentError — before anything starts.
 */
export async function runAutoscaler(config: AutoscalerConfig, options: RunAutoscalerOptions = {}): Promise<number> {
  const valid = validateAutoscalerConfig(config);
  const { store, scaler, ...autoscalerOptions } = valid;
  const logger = resolveLogger(autoscalerOptions.logger, 'info');
  const autoscaler = new Autoscaler(store, scaler, { ...autoscalerOptions, logger });
  if (options.onStart !== undefined && typeof options.onStart !== 'function') throw new InvalidArgumentError('runAutoscaler: onStart must be a function');
  options.onStart?.(autoscaler);

  const stop = (why: string) => {
    logger.info({ why }, 'autoscaler stopping');
    void autoscaler.stop();
  };
  const onSignal = (sig: NodeJS.Signals) => stop(sig);
  const handleSignals = options.handleSignals ?? true;
  if (handleSignals) for (const s of SIGNALS) process.on(s, onSignal);
  const onAbort = () => stop('abort signal');
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let code = 0;
  try {
    logger.info({ queues: autoscaler.queues, id: autoscaler.id }, 'autoscaler started');
    if (!options.signal?.aborted) await autoscaler.run();
  } catch (err) {
    logger.error({ err }, 'autoscaler failed');
    code = 1;
  } finally {
    if (handleSignals) for (const s of SIGNALS) process.off(s, onSignal);
    options.signal?.removeEventListener('abort', onAbort);
    if (options.closeStore ?? true) {
      try {
        await store.close?.();
      } catch (err) {
        logger.warn({ err }, 'closing the store failed');
      }
    }
  }
  logger.info({ code }, 'autoscaler stopped');
  return code;
}
