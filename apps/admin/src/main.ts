/**
 * `pnpm --filter @jqjobs/admin start -- --store <url> [options]`: the dashboard
 * from the workspace. The server itself lives in @jqjobs/cli (src/admin-server),
 * so the published `jqjobs admin` command is the same program; this launcher
 * only runs that command from source. See README.md.
 */
import { runCli } from '@jqjobs/cli';

const args = process.argv.slice(2);
// `pnpm start -- --store …` may pass the separator through; it is not an argument.
if (args[0] === '--') args.shift();
process.exitCode = await runCli(['admin', ...args]);
