// The `jqjobs` binary as a real child process (see @jqjobs/test-services for why one process).
import { type Child, spawnTs } from '@jqjobs/test-services';

export { spawnTs, killAll, type Child, type ExitInfo } from '@jqjobs/test-services';

/** The `jqjobs` binary, run from source. */
export const JQJOBS_BIN = new URL('../../bin/jqjobs.js', import.meta.url).pathname;

/** Runs `jqjobs <args…>` as a child process. */
export function spawnCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Child {
  return spawnTs(JQJOBS_BIN, args, options);
}
