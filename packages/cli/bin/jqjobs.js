#!/usr/bin/env node
// The `jqjobs` binary. Which code it runs:
// 1. Started with the `jqjobs-source` condition (and a TypeScript loader, e.g.
//    `node --conditions=jqjobs-source --import tsx bin/jqjobs.js`): the package's
//    TypeScript source, as every workspace package resolves in development.
// 2. Otherwise the build, dist/index.mjs (what a published install has).
// 3. In a workspace checkout that was never built: the source through tsx, which
//    is registered here in-process, together with a resolve hook adding the
//    `jqjobs-source` condition so the other @jqjobs packages resolve to their
//    source too. In-process (not a child process) so that the worker's pid and
//    signals stay its own.
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';

const entry = await pickEntry();
const { runCli } = await import(entry);
process.exitCode = await runCli(process.argv.slice(2));
// Exit on the code even if a library left a handle open; unref'd, so a clean
// process exits at once without waiting for it.
setTimeout(() => process.exit(), 3000).unref();

async function pickEntry() {
  let resolved = null;
  try {
    resolved = import.meta.resolve('@jqjobs/cli');
  } catch {
    // No build and no source condition: handled below.
  }
  if (resolved && (resolved.endsWith('.ts') || existsSync(fileURLToPath(resolved)))) return resolved;
  const source = new URL('../src/index.ts', import.meta.url);
  if (!existsSync(source)) {
    process.stderr.write('jqjobs: the package is not built (dist/index.mjs is missing)\n');
    process.exit(70);
  }
  try {
    const { register: registerTsx } = await import('tsx/esm/api');
    registerTsx();
  } catch {
    process.stderr.write('jqjobs: not built, and tsx is not available to run the source: run `pnpm --filter @jqjobs/cli build`\n');
    process.exit(70);
  }
  const hook = `export async function resolve(specifier, context, next) {
    const conditions = context.conditions.includes('jqjobs-source') ? context.conditions : [...context.conditions, 'jqjobs-source'];
    return next(specifier, { ...context, conditions });
  }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  return source.href;
}
