/**
 * What a `jqjobs` command is. Adding one: write `src/commands/<name>.ts` exporting
 * `defineCommand({...})` and add it to the table in `src/main.ts`.
 */
import type { OptionSpecs, ParsedArgs } from './args.ts';

/** Where a command writes; `runCli` passes the process streams, tests pass buffers. */
export interface Output {
  write(text: string): unknown;
  /** True for a terminal (human formats), false for pipes and files. */
  isTTY?: boolean;
}

export interface CommandContext {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface CommandDefinition<S extends OptionSpecs> {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** What follows `jqjobs <name>` in the usage line, e.g. `--store <url> <job-id>`. */
  usage: string;
  /** More help text after the options block. */
  details?: string;
  options: S;
  /** Positional arguments accepted. @default 0 */
  maxPositionals?: number;
  /** Runs the command; resolves with the process exit code. Throw `UsageError` for bad input. */
  run(args: ParsedArgs<S>, ctx: CommandContext): Promise<number>;
}

/** A command with its option types erased, as kept in the dispatch table. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  details?: string;
  options: OptionSpecs;
  maxPositionals?: number;
  run(args: ParsedArgs<OptionSpecs>, ctx: CommandContext): Promise<number>;
}

/** Declares a command with typed options; the table in main.ts holds the erased form. */
export function defineCommand<S extends OptionSpecs>(def: CommandDefinition<S>): Command {
  return def as unknown as Command;
}
