/**
 * Loads the `--jobs` modules and collects the job definitions they export.
 *
 * A module may be ESM or CommonJS; TypeScript needs the user's own loader (Node 20
 * cannot run .ts by itself), e.g. `NODE_OPTIONS="--import tsx"`. Recognised
 * exports: a job definition, an array of them, and (one level deep) the values of
 * a default-exported object, which is what `module.exports = { a, b }` becomes.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defineJob, getJobDefinition, type JobDefinition } from '@jqjobs/core';
import { UsageError } from './errors.ts';

/** A jobs module threw while loading (a bug in it, or in something it imports). */
export class JobsModuleError extends Error {
  constructor(spec: string, cause: unknown) {
    super(`--jobs ${spec} failed to load: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'JobsModuleError';
  }
}

type AnyJob = JobDefinition<never>;

function isJobDefinition(v: unknown): v is AnyJob {
  return typeof v === 'object' && v !== null && typeof (v as { name?: unknown }).name === 'string' && typeof (v as { run?: unknown }).run === 'function';
}

/**
 * Imports each module and returns the job definitions they export, deduplicated.
 * @throws UsageError — missing file, a .ts file without a loader, no job
 * definitions, two different types with one name, an invalid definition.
 * @throws JobsModuleError — the module itself threw while loading.
 */
export async function loadJobModules(specs: readonly string[], cwd: string = process.cwd()): Promise<AnyJob[]> {
  const byName = new Map<string, { def: AnyJob; from: string }>();
  for (const spec of specs) {
    const file = spec.startsWith('file:') ? fileURLToPath(spec) : path.resolve(cwd, spec);
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new UsageError(`--jobs ${spec}: no such file (looked for ${file})`);
    let ns: Record<string, unknown>;
    try {
      ns = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_UNKNOWN_FILE_EXTENSION') {
        throw new UsageError(`--jobs ${spec}: Node cannot load ${path.extname(file)} files by itself; run jqjobs with a loader, e.g. NODE_OPTIONS="--import tsx" jqjobs worker …, or point --jobs at the compiled .js`);
      }
      throw new JobsModuleError(spec, err);
    }
    const found = collect(ns);
    if (found.length === 0) {
      throw new UsageError(`--jobs ${spec} exports no job definitions (export the values returned by defineJob, or an array of them)`);
    }
    for (const def of found) {
      const seen = byName.get(def.name);
      if (seen && seen.def !== def) throw new UsageError(`two different job types are named ${JSON.stringify(def.name)} (in ${seen.from} and ${spec})`);
      byName.set(def.name, { def, from: spec });
    }
  }
  return [...byName.values()].map(({ def }) => registered(def));
}

function collect(ns: Record<string, unknown>): AnyJob[] {
  const out = new Set<AnyJob>();
  const take = (v: unknown, depth: number) => {
    if (isJobDefinition(v)) {
      out.add(v);
    } else if (Array.isArray(v)) {
      for (const x of v) if (isJobDefinition(x)) out.add(x);
    } else if (depth === 0 && typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype) {
      for (const x of Object.values(v)) take(x, 1);
    }
  };
  for (const [key, value] of Object.entries(ns)) take(value, key === 'default' ? 0 : 1);
  return [...out];
}

/**
 * The definition as registered in this process's @jqjobs/core. A module that got
 * its `defineJob` from another copy of @jqjobs/core (a CommonJS build, a second
 * install) registered it elsewhere, where this process's store would never find
 * its `cleanup` and `statusDidChange` hooks; defining it again here fixes that.
 */
function registered(def: AnyJob): AnyJob {
  if (getJobDefinition(def.name) === (def as unknown)) return def;
  try {
    return defineJob(def as JobDefinition<unknown>) as AnyJob;
  } catch (err) {
    throw new UsageError(`job type ${JSON.stringify(def.name)} is invalid: ${err instanceof Error ? err.message : String(err)}`);
  }
}
