/**
 * Exit codes of the `jqjobs` binary besides the worker's own 0/1/2/3
 * (`WorkerExitCode` in @jqjobs/core). Values follow BSD sysexits.h, which
 * supervisors and shell scripts already know.
 */
export const CliExitCode = {
  /** Bad command line or bad input: nothing was changed. */
  Usage: 64,
  /** The store could not be reached. */
  Unavailable: 69,
  /** An unexpected error (a bug, or a jobs module that throws while loading). */
  Software: 70,
} as const;

/**
 * Bad input on the command line. `runCli` prints `jqjobs: <message>` as one line on
 * stderr and returns exit code 64, and nothing has been changed anywhere.
 */
export class UsageError extends Error {
  readonly exitCode = CliExitCode.Usage;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The store did not answer a first read at start (down, wrong credentials, not migrated). Exit 69. */
export class StoreUnavailableError extends Error {
  readonly exitCode = CliExitCode.Unavailable;
  constructor(url: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const hint = /does not exist|no such table|undefined_table/i.test(reason) && !/migrat/i.test(reason) ? ' (are its migrations applied? `await store.migrate()`)' : '';
    super(`the store at ${url} is not usable: ${reason.split('\n')[0]}${hint}`, { cause });
    this.name = 'StoreUnavailableError';
  }
}
