import { describe, expect, it } from 'vitest';
import { formatOptions, parseArgs, type OptionSpecs, UsageError } from '../src/index.ts';

const specs = {
  name: { type: 'string', short: 'n', description: 'a name' },
  count: { type: 'integer', min: 1, description: 'a count' },
  ratio: { type: 'number', min: 0, max: 1, description: 'a ratio' },
  nice: { type: 'integer', min: -20, max: 19, description: 'niceness' },
  size: { type: 'bytes', description: 'a size' },
  tag: { type: 'string', multiple: true, description: 'tags' },
  flag: { type: 'boolean', description: 'a flag' },
  mode: { type: 'string', choices: ['a', 'b'], description: 'a mode' },
  url: { type: 'string', env: 'TEST_URL', description: 'from env' },
} as const satisfies OptionSpecs;

const usage = (argv: string[], opts?: Parameters<typeof parseArgs>[2]) => {
  try {
    parseArgs(argv, specs, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no UsageError for ${argv.join(' ')}`);
};

describe('parseArgs', () => {
  it('parses every form into typed values', () => {
    const { options, positionals, help } = parseArgs(
      ['--name', 'x', '--count=3', '--ratio', '.5', '--nice', '-5', '--size', '1.5MB', '--tag', 'a', '--tag=b', '--flag', '--mode', 'b'],
      specs,
      { env: {} },
    );
    expect(options).toEqual({ name: 'x', count: 3, ratio: 0.5, nice: -5, size: 1.5 * 1024 * 1024, tag: ['a', 'b'], flag: true, mode: 'b' });
    expect(positionals).toEqual([]);
    expect(help).toBe(false);
    expect(parseArgs(['-n', 'short'], specs, { env: {} }).options.name).toBe('short');
  });

  it('accepts byte sizes with 1024-based units', () => {
    const size = (s: string) => parseArgs(['--size', s], specs, { env: {} }).options.size;
    expect(size('512')).toBe(512);
    expect(size('1k')).toBe(1024);
    expect(size('2 MiB')).toBe(2 * 1024 ** 2);
    expect(size('1GB')).toBe(1024 ** 3);
    expect(usage(['--size', '1TB'])).toMatch(/--size must be a size in bytes/);
    expect(usage(['--size', '-1'])).toMatch(/--size must be a size in bytes/);
  });

  it('takes the value from the environment when the option is absent', () => {
    expect(parseArgs([], specs, { env: { TEST_URL: 'memory:' } }).options.url).toBe('memory:');
    expect(parseArgs(['--url', 'x:'], specs, { env: { TEST_URL: 'memory:' } }).options.url).toBe('x:');
  });

  it('rejects bad input with one clear message each', () => {
    expect(usage(['--nope'])).toBe('unknown option --nope');
    expect(usage(['-z'])).toBe('unknown option -z');
    expect(usage(['--name'])).toBe('--name needs a value');
    expect(usage(['--name', '--flag'])).toBe('--name needs a value');
    expect(usage(['--name', 'a', '--name', 'b'])).toBe('--name was given more than once');
    expect(usage(['--count', '0'])).toBe('--count must be an integer ≥ 1, got "0"');
    expect(usage(['--count', '2.5'])).toBe('--count must be an integer ≥ 1, got "2.5"');
    expect(usage(['--count', '1e3'])).toBe('--count must be an integer ≥ 1, got "1e3"');
    expect(usage(['--count', ''])).toBe('--count must be an integer ≥ 1, got ""');
    expect(usage(['--ratio', '2'])).toBe('--ratio must be a number from 0 to 1, got "2"');
    expect(usage(['--ratio', 'NaN'])).toMatch(/--ratio must be a number/);
    expect(usage(['--nice', '20'])).toBe('--nice must be an integer from -20 to 19, got "20"');
    expect(usage(['--flag=yes'])).toBe('--flag takes no value');
    expect(usage(['--mode', 'c'])).toBe('--mode must be one of a, b, got "c"');
    expect(usage(['--name', ''])).toBe('--name must not be empty');
    expect(usage(['stray'])).toBe('unexpected argument "stray"');
  });

  it('marks required options and reports them missing', () => {
    const req = { store: { type: 'string', required: true, env: 'S_URL', description: 'store' } } as const satisfies OptionSpecs;
    expect(() => parseArgs([], req, { env: {} })).toThrow('--store is required (or set $S_URL)');
    expect(parseArgs(['--help'], req, { env: {} }).help).toBe(true);
  });

  it('keeps positionals, and everything after --', () => {
    const r = parseArgs(['a', '--flag', '--', '--name', 'b'], specs, { maxPositionals: 3, env: {} });
    expect(r.positionals).toEqual(['a', '--name', 'b']);
    expect(r.options.flag).toBe(true);
  });

  it('formats help rows', () => {
    const text = formatOptions(specs);
    expect(text).toContain('-n, --name <value>');
    expect(text).toContain('--tag <value>');
    expect(text).toContain('(repeatable)');
    expect(text).toContain('env: TEST_URL');
  });
});
