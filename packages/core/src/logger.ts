/**
 * A pino-compatible logger: every method takes a context object and a message,
 * `child(bindings)` adds scope. A pino instance can be passed as it is.
 */
export interface Logger {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
  child?(bindings: Record<string, unknown>): Logger;
}

/** Level names accepted where a logger is expected. `verbose` is an alias of `debug`. */
export type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'verbose';

const RANK: Record<Exclude<LogLevel, 'verbose'>, number> = { silent: 99, error: 50, warn: 40, info: 30, debug: 20 };

function noop(): void {}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };

/**
 * A small line-oriented logger to stderr: `LEVEL msg key=value …`, or one JSON object
 * per line with `json: true`. Used when no logger is given.
 */
export function createLogger(level: LogLevel = 'warn', options: { json?: boolean; bindings?: Record<string, unknown>; write?: (line: string) => void } = {}): Logger {
  const min = RANK[level === 'verbose' ? 'debug' : level];
  if (min === RANK.silent) return silentLogger;
  const bindings = options.bindings ?? {};
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (name: 'debug' | 'info' | 'warn' | 'error') =>
    RANK[name] < min
      ? noop
      : (obj: Record<string, unknown>, msg?: string) => {
          const all = { ...bindings, ...obj };
          if (options.json) {
            write(JSON.stringify({ level: name, time: new Date().toISOString(), msg, ...all }, errorReplacer));
            return;
          }
          const parts = Object.entries(all).map(([k, v]) => `${k}=${formatValue(v)}`);
          write(`${new Date().toISOString()} ${name.toUpperCase()} ${msg ?? ''}${parts.length ? ' ' + parts.join(' ') : ''}`);
        };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (more) => createLogger(level, { ...options, bindings: { ...bindings, ...more } }),
  };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

function formatValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === 'string') return /^[\w.:/@-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Turns the `logger` option (a Logger, a level name, or nothing) into a Logger. */
export function resolveLogger(logger: Logger | LogLevel | undefined, fallback: LogLevel = 'warn'): Logger {
  if (logger === undefined) return createLogger(fallback);
  if (typeof logger === 'string') return createLogger(logger);
  return logger;
}

/** `logger.child(bindings)` when the logger supports it, else the logger itself. */
export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  return logger.child ? logger.child(bindings) : logger;
}
