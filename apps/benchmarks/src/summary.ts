/**
 * Medians across repeats, ratios of ours to the best anchor, and the targets
 * from the store issues.
 */
import { ADAPTERS, BACKEND, OURS, type AdapterName } from './adapters/types.ts';
import type { Measurement, ScenarioName } from './scenarios.ts';
import { median } from './stats.ts';

export interface RepMeasurement extends Measurement {
  rep: number;
  /** Fingerprint of our packages' sources when the measurement process started. */
  source: string;
}

export interface Cell {
  median: number;
  values: number[];
}

export type Summary = Partial<Record<AdapterName, Partial<Record<ScenarioName, Record<string, Cell>>>>>;

export function summarize(measurements: readonly RepMeasurement[]): Summary {
  const out: Summary = {};
  for (const m of measurements) {
    if (m.status !== 'ok') continue;
    const byScenario = (out[m.adapter] ??= {});
    const cells = (byScenario[m.scenario] ??= {});
    for (const [k, v] of Object.entries(m.metrics)) (cells[k] ??= { median: Number.NaN, values: [] }).values.push(v);
  }
  for (const byScenario of Object.values(out)) {
    for (const cells of Object.values(byScenario)) for (const cell of Object.values(cells)) cell.median = median(cell.values);
  }
  return out;
}

export function value(summary: Summary, adapter: AdapterName, scenario: ScenarioName, metric: string): number {
  return summary[adapter]?.[scenario]?.[metric]?.median ?? Number.NaN;
}

/** The metrics compared, and which direction is better. */
export interface Comparison {
  scenario: ScenarioName;
  metric: string;
  label: string;
  higherIsBetter: boolean;
  /** Only anchors on the same backend compare (WAL bytes, Redis calls, storage). */
  sameBackendOnly: boolean;
}

export const COMPARISONS: readonly Comparison[] = [
  { scenario: 'enqueue-serial', metric: 'jobsPerSec', label: 'enqueue, serial (jobs/s)', higherIsBetter: true, sameBackendOnly: false },
  { scenario: 'enqueue-10', metric: 'jobsPerSec', label: 'enqueue, 10 in flight (jobs/s)', higherIsBetter: true, sameBackendOnly: false },
  { scenario: 'enqueue-100', metric: 'jobsPerSec', label: 'enqueue, 100 in flight (jobs/s)', higherIsBetter: true, sameBackendOnly: false },
  { scenario: 'enqueue-bulk', metric: 'jobsPerSec', label: 'bulk enqueue (jobs/s)', higherIsBetter: true, sameBackendOnly: false },
  { scenario: 'drain', metric: 'jobsPerSec', label: 'drain, concurrency 10 (jobs/s)', higherIsBetter: true, sameBackendOnly: false },
  { scenario: 'latency', metric: 'p50Ms', label: 'pickup p50 (ms)', higherIsBetter: false, sameBackendOnly: false },
  { scenario: 'latency', metric: 'p95Ms', label: 'pickup p95 (ms)', higherIsBetter: false, sameBackendOnly: false },
  { scenario: 'latency', metric: 'p99Ms', label: 'pickup p99 (ms)', higherIsBetter: false, sameBackendOnly: false },
  { scenario: 'drain', metric: 'workerCpuUsPerJob', label: 'worker CPU per job (µs)', higherIsBetter: false, sameBackendOnly: false },
  { scenario: 'drain', metric: 'serverCpuUsPerJob', label: 'server CPU per job (µs)', higherIsBetter: false, sameBackendOnly: true },
  { scenario: 'drain', metric: 'walBytesPerJob', label: 'WAL per job (bytes)', higherIsBetter: false, sameBackendOnly: true },
  { scenario: 'drain', metric: 'xactsPerJob', label: 'transactions per job', higherIsBetter: false, sameBackendOnly: true },
  { scenario: 'drain', metric: 'redisCallsPerJob', label: 'Redis calls per job', higherIsBetter: false, sameBackendOnly: true },
  { scenario: 'drain', metric: 'bytesPerWaitingJob', label: 'storage per waiting job (bytes)', higherIsBetter: false, sameBackendOnly: true },
];

export interface Ratio {
  ours: AdapterName;
  comparison: Comparison;
  oursValue: number;
  best: AdapterName | null;
  bestValue: number;
  /** > 1 means ours is better, whatever the direction of the metric. */
  advantage: number;
}

const ANCHORS = ADAPTERS.filter((a) => !OURS.includes(a));

export function bestAnchor(summary: Summary, c: Comparison, backend: string | null): { adapter: AdapterName | null; value: number } {
  let best: AdapterName | null = null;
  let bestValue = Number.NaN;
  for (const a of ANCHORS) {
    if (backend !== null && BACKEND[a] !== backend) continue;
    const v = value(summary, a, c.scenario, c.metric);
    if (!Number.isFinite(v)) continue;
    if (best === null || (c.higherIsBetter ? v > bestValue : v < bestValue)) {
      best = a;
      bestValue = v;
    }
  }
  return { adapter: best, value: bestValue };
}

export function advantage(c: Comparison, ours: number, anchor: number): number {
  if (!Number.isFinite(ours) || !Number.isFinite(anchor) || ours <= 0 || anchor <= 0) return Number.NaN;
  return c.higherIsBetter ? ours / anchor : anchor / ours;
}

/** Ours against the best anchor: of every anchor, or of the anchors on the same backend. */
export function ratios(summary: Summary, sameBackend: boolean): Ratio[] {
  const out: Ratio[] = [];
  for (const ours of OURS) {
    for (const c of COMPARISONS) {
      if (c.sameBackendOnly && !sameBackend) continue;
      if (BACKEND[ours] === 'memory' && (sameBackend || c.sameBackendOnly)) continue;
      const oursValue = value(summary, ours, c.scenario, c.metric);
      if (!Number.isFinite(oursValue)) continue;
      const { adapter: best, value: bestValue } = bestAnchor(summary, c, sameBackend ? BACKEND[ours] : null);
      if (best === null) continue;
      out.push({ ours, comparison: c, oursValue, best, bestValue, advantage: advantage(c, oursValue, bestValue) });
    }
  }
  return out;
}

export interface TargetResult {
  name: string;
  status: 'met' | 'missed' | 'not measured';
  detail: string;
  /** Median and range of the per-repeat ratios ours ÷ anchor (adjacent measurements of one round), as a check on drift. */
  paired: string;
}

/**
 * Per repeat, ours ÷ anchor (`invert`: anchor ÷ ours) from the two measurements
 * of one round: machine load drifts between rounds, far less within one.
 */
function pairedRatios(ms: readonly RepMeasurement[], scenario: ScenarioName, metric: string, ours: AdapterName, anchor: AdapterName, invert: boolean): number[] {
  const at = (a: AdapterName, rep: number) => ms.find((m) => m.adapter === a && m.scenario === scenario && m.rep === rep && m.status === 'ok')?.metrics[metric];
  const out: number[] = [];
  for (const rep of new Set(ms.map((m) => m.rep))) {
    const o = at(ours, rep);
    const b = at(anchor, rep);
    if (o === undefined || b === undefined || !(o > 0) || !(b > 0)) continue;
    out.push(invert ? b / o : o / b);
  }
  return out;
}

function fmtPaired(rs: readonly number[]): string {
  if (rs.length === 0) return '—';
  const sorted = [...rs].sort((x, y) => x - y);
  return `${median(rs).toFixed(2)}× (${sorted[0]!.toFixed(2)}–${sorted[sorted.length - 1]!.toFixed(2)}, ${rs.length} repeats)`;
}

/** The targets set in the store issues. */
export function targets(summary: Summary, measurements: readonly RepMeasurement[]): TargetResult[] {
  const out: TargetResult[] = [];
  const drain = (a: AdapterName) => value(summary, a, 'drain', 'jobsPerSec');
  const ratioTarget = (name: string, ours: AdapterName, anchor: AdapterName, need: number) => {
    const o = drain(ours);
    const b = drain(anchor);
    if (!Number.isFinite(o) || !Number.isFinite(b)) {
      out.push({ name, status: 'not measured', detail: `${ours}: ${fmtRate(o)}, ${anchor}: ${fmtRate(b)}`, paired: '—' });
      return;
    }
    const r = o / b;
    out.push({
      name,
      status: r >= need ? 'met' : 'missed',
      detail: `${r.toFixed(2)}× (${ours} ${fmtRate(o)} jobs/s vs ${anchor} ${fmtRate(b)} jobs/s; needs ≥ ${need}×)`,
      paired: fmtPaired(pairedRatios(measurements, 'drain', 'jobsPerSec', ours, anchor, false)),
    });
  };
  ratioTarget('Postgres drain ≥ 1.25× graphile-worker', 'jqjobs-postgres', 'graphile-worker', 1.25);
  ratioTarget('Redis drain ≥ 1.5× BullMQ', 'jqjobs-redis', 'bullmq', 1.5);
  for (const ours of ['jqjobs-postgres', 'jqjobs-redis'] as const) {
    const name = `${ours} pickup p50 ahead of every anchor`;
    const o = value(summary, ours, 'latency', 'p50Ms');
    const anchors = ANCHORS.map((a) => ({ a, v: value(summary, a, 'latency', 'p50Ms') })).filter((x) => Number.isFinite(x.v));
    if (!Number.isFinite(o) || anchors.length < ANCHORS.length) {
      out.push({ name, status: 'not measured', detail: `${ours}: ${fmtMs(o)} ms; anchors measured: ${anchors.length} of ${ANCHORS.length}`, paired: '—' });
      continue;
    }
    const best = anchors.reduce((x, y) => (y.v < x.v ? y : x));
    const behind = anchors.filter((x) => x.v <= o).map((x) => `${x.a} ${fmtMs(x.v)} ms`);
    out.push({
      name,
      status: behind.length === 0 ? 'met' : 'missed',
      detail: behind.length === 0 ? `${fmtMs(o)} ms vs best anchor ${best.a} ${fmtMs(best.v)} ms` : `${fmtMs(o)} ms; not ahead of ${behind.join(', ')}`,
      paired: `vs ${best.a}: ${fmtPaired(pairedRatios(measurements, 'latency', 'p50Ms', ours, best.a, true))}`,
    });
  }
  return out;
}

export function fmtRate(v: number): string {
  if (!Number.isFinite(v)) return '—';
  return Math.round(v).toLocaleString('en-US');
}

export function fmtMs(v: number): string {
  if (!Number.isFinite(v)) return '—';
  if (v >= 100) return Math.round(v).toLocaleString('en-US');
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}
