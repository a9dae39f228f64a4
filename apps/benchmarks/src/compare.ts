/**
 * `pnpm bench:compare [--quick] [--reps N] [--adapters a,b] [--scenarios s,t] [--out DIR]`
 *
 * Runs every scenario against every adapter, each measurement in its own child
 * process and fresh database, alternating adapters, and writes RESULTS.md,
 * results.svg and results.json. Full mode writes into apps/benchmarks (the
 * committed report); quick mode writes into apps/benchmarks/.quick unless --out.
 */
import { fork, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ADAPTERS, BACKEND, type AdapterName } from './adapters/types.ts';
import type { ChildMessage, ChildSpec } from './child.ts';
import { FULL, QUICK, REDIS_DB } from './config.ts';
import { renderMarkdown, renderSvg, type RunData } from './report.ts';
import { SCENARIOS, type Measurement, type ScenarioName } from './scenarios.ts';
import { DB_PREFIX, PgAdmin, RedisAdmin } from './services.ts';
import { summarize, targets, type RepMeasurement } from './summary.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const appDir = path.resolve(here, '..');
const repoDir = path.resolve(appDir, '../..');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    adapters: { type: 'string' },
    scenarios: { type: 'string' },
    out: { type: 'string' },
  },
});

const mode = args.quick ? 'quick' : 'full';
const preset = args.quick ? QUICK : FULL;
const reps: Record<ScenarioName, number> = { ...preset.reps };
if (args.reps) for (const k of SCENARIOS) reps[k] = Number(args.reps);
const adapters = pick(args.adapters, ADAPTERS, 'adapter');
const scenarios = pick(args.scenarios, SCENARIOS, 'scenario');
const outDir = path.resolve(args.out ?? (args.quick ? path.join(appDir, '.quick') : appDir));
const redisDb = Number(process.env['JQ_BENCH_REDIS_DB'] || REDIS_DB[mode]);
if (Object.values(reps).some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--reps must be a positive integer, got ${args.reps}`);

function pick<T extends string>(arg: string | undefined, all: readonly T[], what: string): T[] {
  if (!arg) return [...all];
  const chosen = arg.split(',').map((x) => x.trim());
  for (const c of chosen) if (!all.includes(c as T)) throw new Error(`unknown ${what} ${c}; one of ${all.join(', ')}`);
  return chosen as T[];
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface ChildRun {
  adapter: AdapterName;
  scenarios: ScenarioName[];
  rep: number;
}

/** Each scenario in turn; within it the repeats, each one a round of all adapters starting one adapter later than the last. */
function plan(): ChildRun[] {
  const runs: ChildRun[] = [];
  if (mode === 'quick') {
    // One process per adapter keeps CI's smoke run short; the targets are still fresh per scenario.
    const most = Math.max(...scenarios.map((sc) => reps[sc]));
    for (let rep = 0; rep < most; rep++) for (const adapter of adapters) runs.push({ adapter, scenarios: scenarios.filter((sc) => rep < reps[sc]), rep });
    return runs;
  }
  for (const scenario of scenarios) {
    for (let rep = 0; rep < reps[scenario]; rep++) {
      for (let k = 0; k < adapters.length; k++) runs.push({ adapter: adapters[(k + rep) % adapters.length]!, scenarios: [scenario], rep });
    }
  }
  return runs;
}

const processNotes: string[] = [];

/**
 * A hash of our packages' sources. Each measurement process loads them afresh,
 * so an edit made while the run is going changes what later measurements
 * measure; the report says so when the hash moved.
 */
function sourceFingerprint(): string {
  const h = createHash('sha1');
  for (const pkg of ['core', 'store-memory', 'store-postgres', 'store-redis']) {
    const dir = path.join(repoDir, 'packages', pkg, 'src');
    let files: string[];
    try {
      files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).sort();
    } catch {
      continue;
    }
    for (const f of files) h.update(`${pkg}/${f}\0`).update(readFileSync(path.join(dir, f))).update('\0');
  }
  return h.digest('hex').slice(0, 10);
}

async function runChild(run: ChildRun): Promise<Measurement[]> {
  const spec: ChildSpec = { adapter: run.adapter, scenarios: run.scenarios, params: preset.params, redisDb };
  const child = fork(path.join(here, 'child.ts'), [JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  const results: Measurement[] = [];
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('message', (msg: ChildMessage) => {
    if (msg.kind === 'result') results.push(msg.measurement);
  });
  // A hung library must not hang the run: the budget is generous for the slowest scenario.
  const budgetMs = run.scenarios.length * (preset.params.timeboxMs * 2 + 60_000);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const disconnected = new Promise<void>((resolve) => child.on('disconnect', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const finished = await Promise.race([disconnected.then(() => true), exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), budgetMs)))]);
  clearTimeout(timer);
  if (!finished) {
    processNotes.push(`${run.adapter} (${run.scenarios.join(', ')}, repeat ${run.rep + 1}): killed after ${Math.round(budgetMs / 1000)} s without finishing`);
    child.kill('SIGKILL');
  }
  // The child has nothing left to do: if it does not exit by itself, the adapter left a client or timer open.
  let exitTimer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<'leak'>((r) => (exitTimer = setTimeout(() => r('leak'), 10_000)))]);
  clearTimeout(exitTimer);
  if (code === 'leak') {
    processNotes.push(`${run.adapter} (${run.scenarios.join(', ')}, repeat ${run.rep + 1}): process still alive 10 s after its last measurement (a handle left open); killed`);
    child.kill('SIGKILL');
    await exited;
  } else if (code !== 0 && finished) {
    processNotes.push(`${run.adapter} (${run.scenarios.join(', ')}, repeat ${run.rep + 1}): exited with code ${code}: ${output.trim().split('\n').slice(-3).join(' / ')}`);
  }
  await dropLeftovers(child.pid);
  for (const scenario of run.scenarios) {
    if (!results.some((m) => m.scenario === scenario)) {
      results.push({ adapter: run.adapter, scenario, status: 'error', error: `no result (process output: ${output.trim().split('\n').slice(-2).join(' / ')})`, metrics: {}, notes: [], loadAvg: Number.NaN });
    }
  }
  return results;
}

async function dropLeftovers(pid: number | undefined): Promise<void> {
  if (pid === undefined || !adapters.some((a) => BACKEND[a] === 'postgres')) return;
  const admin = await PgAdmin.connect();
  try {
    for (const db of await admin.listBenchDatabases()) {
      if (db.startsWith(`${DB_PREFIX}${pid}_`)) {
        await admin.dropDatabase(db);
        processNotes.push(`dropped database ${db} left behind by a measurement process`);
      }
    }
  } finally {
    await admin.close();
  }
}

/** Databases of earlier runs whose process is gone (a crash or a kill): ours by name, so safe to drop. */
async function dropStale(admin: PgAdmin): Promise<void> {
  for (const db of await admin.listBenchDatabases()) {
    const pid = Number(db.slice(DB_PREFIX.length).split('_')[0]);
    if (Number.isInteger(pid) && !alive(pid)) await admin.dropDatabase(db);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function pkgVersion(name: string, from = appDir): string {
  try {
    return (JSON.parse(readFileSync(path.join(from, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function git(): RunData['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoDir, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'packages'], { cwd: repoDir, encoding: 'utf8' });
    const dirty = new Set(
      status
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(3).split('/').slice(0, 2).join('/')),
    );
    return { commit, dirtyPaths: [...dirty].sort() };
  } catch {
    return { commit: 'unknown', dirtyPaths: [] };
  }
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const loadAvgStart = os.loadavg();
  const versions: Record<string, string> = { node: process.version };
  if (adapters.some((a) => BACKEND[a] === 'postgres')) {
    const admin = await PgAdmin.connect();
    versions['PostgreSQL'] = await admin.serverVersion();
    await dropStale(admin);
    await admin.close();
  }
  if (adapters.some((a) => BACKEND[a] === 'redis')) {
    const admin = await RedisAdmin.connect(redisDb);
    versions['Redis'] = await admin.serverVersion();
    await admin.close();
  }
  for (const name of ['graphile-worker', 'pg-boss', 'bullmq', 'bee-queue', 'pg', 'ioredis']) versions[name] = pkgVersion(name);
  for (const name of ['core', 'store-memory', 'store-postgres', 'store-redis']) versions[`@jqjobs/${name}`] = pkgVersion(`@jqjobs/${name}`);

  const runs = plan();
  log(`bench:compare ${mode}: ${adapters.length} adapters × ${scenarios.length} scenarios, repeats ${scenarios.map((sc) => `${sc} ${reps[sc]}`).join(', ')}; ${runs.length} processes`);
  const measurements: RepMeasurement[] = [];
  for (const [i, run] of runs.entries()) {
    const t0 = Date.now();
    const source = sourceFingerprint();
    const results = await runChild(run);
    for (const m of results) {
      measurements.push({ ...m, rep: run.rep, source });
      const shown = Object.entries(m.metrics)
        .filter(([k]) => ['jobsPerSec', 'p50Ms', 'p99Ms', 'walBytesPerJob', 'redisCallsPerJob'].includes(k))
        .map(([k, v]) => `${k}=${v.toFixed(k.endsWith('Ms') ? 2 : 0)}`)
        .join(' ');
      log(`[${i + 1}/${runs.length}] ${m.adapter} ${m.scenario} rep ${run.rep + 1}: ${m.status}${m.error ? ` (${m.error})` : ''} ${shown}${m.notes.length ? ` — ${m.notes.join('; ')}` : ''}`);
    }
    log(`    ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  const versionsSeen = [...new Set(measurements.map((m) => m.source))];
  if (versionsSeen.length > 1) {
    processNotes.push(
      `our packages' sources changed while this run was going (${versionsSeen.length} versions: ${versionsSeen.join(', ')}; per measurement in results.json): the numbers mix code versions, rerun on a quiet tree`,
    );
  }
  const summary = summarize(measurements);
  const data: RunData = {
    generatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    mode,
    command: `pnpm bench:compare${args.quick ? ' --quick' : ''}`,
    reps,
    params: preset.params,
    durationSeconds: (Date.now() - startedAt) / 1000,
    machine: {
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      cpus: os.cpus().length,
      cpuMHz: os.cpus()[0]?.speed ?? 0,
      totalMemGiB: os.totalmem() / 2 ** 30,
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      loadAvgStart,
      loadAvgEnd: os.loadavg(),
    },
    versions,
    git: git(),
    redisDb,
    adapters,
    scenarios,
    measurements,
    summary,
    processNotes,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(data, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'results.svg'), renderSvg(data));
  writeFileSync(path.join(outDir, 'RESULTS.md'), renderMarkdown(data, 'results.svg'));
  for (const t of targets(summary, measurements)) log(`target ${t.status.toUpperCase()}: ${t.name} — ${t.detail}`);
  log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'RESULTS.md')) || 'RESULTS.md'} in ${(data.durationSeconds / 60).toFixed(1)} min`);
}

await main();
