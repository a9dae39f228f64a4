// Runs `bench:compare --quick` against the real PostgreSQL and Redis and checks
// that the harness produced numbers for every adapter and scenario. Speed is not
// asserted: CI machines differ; the full run is where numbers are compared.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ADAPTERS, BACKEND } from '../src/adapters/types.ts';
import type { RunData } from '../src/report.ts';
import { SCENARIOS, type ScenarioName } from '../src/scenarios.ts';

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = mkdtempSync(path.join(os.tmpdir(), 'jqbench-quick-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const EXPECTED: Record<ScenarioName, string[]> = {
  'enqueue-serial': ['jobsPerSec'],
  'enqueue-10': ['jobsPerSec'],
  'enqueue-100': ['jobsPerSec'],
  'enqueue-bulk': ['jobsPerSec'],
  drain: ['jobsPerSec', 'workerCpuUsPerJob'],
  latency: ['p50Ms', 'p95Ms', 'p99Ms'],
};

function runQuick(): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      path.join(appDir, 'node_modules/.bin/tsx'),
      ['--conditions=jqjobs-source', 'src/compare.ts', '--quick', '--out', out],
      { cwd: appDir, env: process.env, maxBuffer: 16 * 1024 * 1024, timeout: 170_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

describe('bench:compare --quick', () => {
  it('measures every adapter in every scenario and writes the report', async () => {
    const { code, output } = await runQuick();
    expect(code, output).toBe(0);
    const data = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as RunData;
    for (const adapter of ADAPTERS) {
      for (const scenario of SCENARIOS) {
        const m = data.measurements.find((x) => x.adapter === adapter && x.scenario === scenario);
        expect(m, `${adapter} ${scenario}`).toBeDefined();
        expect(m!.status, `${adapter} ${scenario}: ${m!.error ?? ''}`).toBe('ok');
        const wanted = [...EXPECTED[scenario]];
        if (scenario === 'drain' && BACKEND[adapter] === 'postgres') wanted.push('walBytesPerJob', 'xactsPerJob', 'serverCpuUsPerJob', 'bytesPerWaitingJob');
        if (scenario === 'drain' && BACKEND[adapter] === 'redis') wanted.push('redisCallsPerJob', 'serverCpuUsPerJob', 'bytesPerWaitingJob');
        for (const k of wanted) expect(Number.isFinite(m!.metrics[k]), `${adapter} ${scenario} ${k}`).toBe(true);
      }
    }
    // Leaks, crashes and leftover databases are notes; a source edit during the run is not the harness's fault.
    expect(data.processNotes.filter((n) => !n.includes('sources changed')), 'child processes exited cleanly').toEqual([]);
    const md = readFileSync(path.join(out, 'RESULTS.md'), 'utf8');
    expect(md).toContain('## Targets');
    expect(readFileSync(path.join(out, 'results.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
  }, 180_000);
});
