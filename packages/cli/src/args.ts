/**
 * A small strict argument parser: every option is declared, values are typed and
 * range-checked, and anything else is a `UsageError` naming the option. No
 * dependency; `node:util`'s parseArgs has no number types and multi-line errors.
 *
 * Accepted forms: `--name value`, `--name=value`, `--flag`, `-x value` for
 * declared short names, `--` to end options. The token after an option that takes
 * a value is its value even when it starts with `-` (so `--adjust-priority -5`
 * works), unless it starts with `--`, which is reported as a missing value.
 */
import { UsageError } from './errors.ts';

export type OptionType = 'string' | 'boolean' | 'integer' | 'number' | 'bytes';

export interface OptionSpec {
  type: OptionType;
  /** One line for `--help`. */
  description: string;
  /** Placeholder in `--help`, e.g. `<url>`. @default derived from the type */
  valueName?: string;
  /** May be given several times; the value is then an array in command-line order. @default false */
  multiple?: boolean;
  /** A one-letter alias, without the dash. */
  short?: string;
  /** Must be given (after the `env` fallback). @default false */
  required?: boolean;
  /** An environment variable read when the option is absent. */
  env?: string;
  /** Smallest accepted value (numbers, bytes). */
  min?: number;
  /** Largest accepted value (numbers, bytes). */
  max?: number;
  /** Accepted values (strings). */
  choices?: readonly string[];
  /** Shown in `--help` only; absent options are `undefined` in the result. */
  defaultText?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<O extends OptionSpec> = O['type'] extends 'boolean' ? boolean : O['type'] extends 'string' ? string : number;

/** Parsed option values, keyed by long option name; absent options are undefined. */
export type ParsedOptions<S extends OptionSpecs> = {
  [K in keyof S]?: S[K]['multiple'] extends true ? ValueOf<S[K]>[] : ValueOf<S[K]>;
};

export interface ParsedArgs<S extends OptionSpecs> {
  options: ParsedOptions<S>;
  positionals: string[];
  /** `--help` or `-h` was given (other checks are skipped). */
  help: boolean;
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/**
 * Parses `argv` against `specs`.
 * @throws UsageError for an unknown option, a missing or malformed value, a
 * repeated single option, a missing required option or too many positionals.
 */
export function parseArgs<S extends OptionSpecs>(
  argv: readonly string[],
  specs: S,
  options: { maxPositionals?: number; env?: NodeJS.ProcessEnv } = {},
): ParsedArgs<S> {
  const shorts = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) if (spec.short) shorts.set(spec.short, name);
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  let help = false;

  const set = (name: string, raw: string | true) => {
    const spec = specs[name]!;
    const value = raw === true ? true : convert(name, spec, raw);
    if (spec.multiple) ((values[name] ??= []) as unknown[]).push(value);
    else if (name in values) throw new UsageError(`--${name} was given more than once`);
    else values[name] = value;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      if (!Object.hasOwn(specs, name)) throw new UsageError(`unknown option --${name}`);
    } else if (arg.length > 1 && arg.startsWith('-') && !/^-\d/.test(arg)) {
      const long = arg.length === 2 ? shorts.get(arg[1]!) : undefined;
      if (!long) throw new UsageError(`unknown option ${arg}`);
      name = long;
    } else {
      positionals.push(arg);
      continue;
    }
    const spec = specs[name]!;
    if (spec.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      set(name, true);
      continue;
    }
    if (inline === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name} needs a value${spec.valueName ? ` ${spec.valueName}` : ''}`);
      inline = next;
      i++;
    }
    set(name, inline);
  }

  if (!help) {
    for (const [name, spec] of Object.entries(specs)) {
      if (!(name in values) && spec.env) {
        const fromEnv = (options.env ?? process.env)[spec.env];
        if (fromEnv !== undefined && fromEnv !== '') {
          try {
            set(name, spec.type === 'boolean' ? true : fromEnv);
          } catch (err) {
            throw err instanceof UsageError ? new UsageError(`${err.message} (from $${spec.env})`) : err;
          }
        }
      }
      if (spec.required && !(name in values)) throw new UsageError(`--${name} is required${spec.env ? ` (or set $${spec.env})` : ''}`);
    }
    const max = options.maxPositionals ?? 0;
    if (positionals.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[max])}`);
  }
  return { options: values as ParsedOptions<S>, positionals, help };
}

function convert(name: string, spec: OptionSpec, raw: string): string | number {
  if (spec.type === 'string') {
    if (raw === '') throw new UsageError(`--${name} must not be empty`);
    if (spec.choices && !spec.choices.includes(raw)) throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(raw)}`);
    return raw;
  }
  let n: number;
  let what: string;
  if (spec.type === 'bytes') {
    what = 'a size in bytes (e.g. 268435456, 256MB, 1.5GB)';
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
    const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
    n = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : Number.NaN;
  } else {
    what = spec.type === 'integer' ? 'an integer' : 'a number';
    const pattern = spec.type === 'integer' ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)$/;
    n = pattern.test(raw.trim()) ? Number(raw) : Number.NaN;
  }
  const range = spec.min !== undefined && spec.max !== undefined ? ` from ${spec.min} to ${spec.max}` : spec.min !== undefined ? ` ≥ ${spec.min}` : spec.max !== undefined ? ` ≤ ${spec.max}` : '';
  if (!Number.isFinite(n) || (spec.type === 'integer' && !Number.isSafeInteger(n)) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
    throw new UsageError(`--${name} must be ${what}${range}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** The options block of a command's `--help`. */
export function formatOptions(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const value = spec.type === 'boolean' ? '' : ` ${spec.valueName ?? `<${spec.type === 'string' ? 'value' : spec.type === 'bytes' ? 'bytes' : 'n'}>`}`;
    const left = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${value}`;
    const notes = [
      spec.required ? 'required' : '',
      spec.multiple ? 'repeatable' : '',
      spec.defaultText ? `default: ${spec.defaultText}` : '',
      spec.env ? `env: ${spec.env}` : '',
    ].filter(Boolean);
    return [left, `${spec.description}${notes.length ? ` (${notes.join('; ')})` : ''}`] as const;
  });
  const width = Math.min(40, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows.map(([l, r]) => `  ${l.padEnd(width)}${l.length >= width ? `\n  ${' '.repeat(width)}` : ''}${r}`).join('\n');
}
