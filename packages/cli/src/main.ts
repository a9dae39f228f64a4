/**
 * `jqjobs <command> [options]`: the dispatch table and the error boundary.
 * Every failure leaves as one line on stderr and an exit code; see errors.ts.
 */
import { readFileSync } from 'node:fs';
import { JQJobsError, StoreError } from '@jqjobs/core';
import { formatOptions, parseArgs } from './args.ts';
import type { Command, CommandContext } from './command.ts';
import { workerCommand } from './commands/worker.ts';
import { adminCommand } from './commands/admin.ts';
import { autoscaleCommand } from './commands/autoscale.ts';
import { deleteCommand } from './commands/delete.ts';
import { detectHungCommand } from './commands/detect-hung.ts';
import { listCommand } from './commands/list.ts';
import { migrateCommand } from './commands/migrate.ts';
import { resolveCommand } from './commands/resolve.ts';
import { restartCommand } from './commands/restart.ts';
import { retryCommand } from './commands/retry.ts';
import { showCommand } from './commands/show.ts';
import { statsCommand } from './commands/stats.ts';
import { CliExitCode, UsageError } from './errors.ts';

/** Commands by name. Add new commands here. */
export const commands: Readonly<Record<string, Command>> = {
  worker: workerCommand,
  autoscale: autoscaleCommand,
  migrate: migrateCommand,
  stats: statsCommand,
  list: listCommand,
  show: showCommand,
  restart: restartCommand,
  retry: retryCommand,
  delete: deleteCommand,
  resolve: resolveCommand,
  'detect-hung': detectHungCommand,
  admin: adminCommand,
};

/** Streams and environment for `runCli`. @default the process's own */
export type CliIo = Partial<CommandContext>;

/**
 * Runs the `jqjobs` command line (`argv` without the node and script paths) and
 * resolves with the exit code; the caller sets it. `jqjobs worker` exits the
 * process itself when the worker stops.
 * @example
 * process.exitCode = await runCli(process.argv.slice(2));
 */
export async function runCli(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const ctx: CommandContext = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  };
  const [name, ...rest] = argv;
  try {
    if (name === undefined) {
      ctx.stderr.write(mainHelp());
      return CliExitCode.Usage;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      const about = rest[0] === undefined ? undefined : commands[rest[0]];
      ctx.stdout.write(about ? commandHelp(about) : mainHelp());
      return 0;
    }
    if (name === '--version' || name === '-V') {
      ctx.stdout.write(`${version()}\n`);
      return 0;
    }
    const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}; run jqjobs --help for the list`);
    const args = parseArgs(rest, command.options, { maxPositionals: command.maxPositionals ?? 0, env: ctx.env });
    if (args.help) {
      ctx.stdout.write(commandHelp(command));
      return 0;
    }
    return await command.run(args, ctx);
  } catch (err) {
    const { code, message } = describeFailure(err);
    ctx.stderr.write(`jqjobs${name && Object.hasOwn(commands, name) ? ` ${name}` : ''}: ${message}\n`);
    if (code === CliExitCode.Software && ctx.env.JQJOBS_DEBUG && err instanceof Error) {
      const cause: unknown = err.cause;
      ctx.stderr.write(`${(cause instanceof Error ? cause : err).stack ?? ''}\n`);
    }
    return code;
  }
}

function describeFailure(err: unknown): { code: number; message: string } {
  const message = oneLine(err instanceof Error ? err.message : String(err));
  if (err instanceof UsageError) return { code: CliExitCode.Usage, message };
  const exitCode = (err as { exitCode?: unknown } | null)?.exitCode;
  if (typeof exitCode === 'number') return { code: exitCode, message };
  // Core's validation errors are bad input too (a bad value passed straight through).
  if (err instanceof JQJobsError && (err.code === 'JQ_INVALID_ARGUMENT' || err.code === 'JQ_INVALID_JOB_OPTIONS')) return { code: CliExitCode.Usage, message };
  // The store is down or not usable (e.g. not migrated): StoreError and StoreConnectionError.
  if (err instanceof StoreError) return { code: CliExitCode.Unavailable, message };
  return { code: CliExitCode.Software, message: `${message} (set JQJOBS_DEBUG=1 for the stack)` };
}

function oneLine(text: string): string {
  return text.split('\n')[0]!.trim();
}

function version(): string {
  // ../package.json from both src/main.ts and the bundled dist/index.mjs.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function mainHelp(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length)) + 2;
  const list = Object.values(commands)
    .map((c) => `  ${c.name.padEnd(width)}${c.summary}`)
    .join('\n');
  return `Usage: jqjobs <command> [options]\n\nCommands:\n${list}\n\nRun jqjobs <command> --help for its options. jqjobs --version prints the version.\n`;
}

function commandHelp(c: Command): string {
  return `Usage: jqjobs ${c.name} ${c.usage}\n\n${c.summary}\n\nOptions:\n${formatOptions({ ...c.options, help: { type: 'boolean', short: 'h', description: 'this help' } })}\n${c.details ? `\n${c.details}\n` : ''}`;
}
