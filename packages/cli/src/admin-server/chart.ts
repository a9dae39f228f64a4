import type { Bucket } from './history.ts';
import { html, type SafeHtml } from './html.ts';

const W = 640;
const H = 180;
const PAD_L = 40;
const PAD_R = 48;
const PAD_T = 22;
const PAD_B = 22;

function niceMax(n: number): number {
  if (n <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/**
 * The throughput chart as a standalone SVG document: bars = jobs finished per
 * bucket (a lower bound, see history.ts), line = queued jobs (right scale).
 * Built from numbers only; still rendered through `html` so nothing is ever raw.
 */
export function renderChartSvg(buckets: readonly Bucket[], since: number | null): SafeHtml {
  const plotW = W - PAD_L - PAD_R;
  const plotH = H - PAD_T - PAD_B;
  const maxFinished = niceMax(Math.max(0, ...buckets.map((b) => b.finished ?? 0)));
  const maxQueued = niceMax(Math.max(0, ...buckets.map((b) => b.queued ?? 0)));
  const n = Math.max(1, buckets.length);
  const slot = plotW / n;
  const bars = buckets.map((b, i) => {
    if (b.finished === null || b.finished === 0) return html``;
    const h = (b.finished / maxFinished) * plotH;
    const x = PAD_L + i * slot + 1;
    return html`<rect class="bar" x="${x.toFixed(1)}" y="${(PAD_T + plotH - h).toFixed(1)}" width="${Math.max(1, slot - 2).toFixed(1)}" height="${h.toFixed(1)}"><title>${b.finished} finished</title></rect>`;
  });
  const xy = buckets
    .map((b, i) => (b.queued === null ? null : [PAD_L + i * slot + slot / 2, PAD_T + plotH - (b.queued / maxQueued) * plotH]))
    .filter((p): p is number[] => p !== null);
  const points = xy.map(([x, y]) => `${(x as number).toFixed(1)},${(y as number).toFixed(1)}`).join(' ');
  // Dots as well as the line: a single sampled minute has no line to draw.
  const dots = xy.map(([x, y]) => html`<circle class="qd" cx="${(x as number).toFixed(1)}" cy="${(y as number).toFixed(1)}" r="2"/>`);
  const total = buckets.reduce((sum, b) => sum + (b.finished ?? 0), 0);
  const note = since === null ? 'no samples yet' : `sampled by this dashboard since ${new Date(since).toISOString().slice(11, 19)} UTC`;
  return html`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Jobs finished per minute, last hour: ${total} in total">
<style>text{font:11px system-ui,sans-serif;fill:#555}.bar{fill:#3b82f6}.q{fill:none;stroke:#f59e0b;stroke-width:1.5}.qd{fill:#f59e0b}.axis{stroke:#bbb}</style>
<rect class="bar" x="${PAD_L + 8}" y="3" width="9" height="9"/><text x="${PAD_L + 21}" y="11">finished / min</text>
<circle class="qd" cx="${PAD_L + 120}" cy="7.5" r="3"/><text x="${PAD_L + 127}" y="11">queued (right scale)</text>
<line class="axis" x1="${PAD_L}" y1="${PAD_T + plotH}" x2="${W - PAD_R}" y2="${PAD_T + plotH}"/>
<line class="axis" x1="${PAD_L}" y1="${PAD_T}" x2="${PAD_L}" y2="${PAD_T + plotH}"/>
<text x="${PAD_L - 4}" y="${PAD_T + 4}" text-anchor="end">${maxFinished}</text>
<text x="${PAD_L - 4}" y="${PAD_T + plotH}" text-anchor="end">0</text>
<text x="${W - PAD_R + 4}" y="${PAD_T + 4}" style="fill:#b45309">${maxQueued}</text>
<text x="${PAD_L}" y="${H - 6}">−60 min</text>
<text x="${W - PAD_R}" y="${H - 6}" text-anchor="end">now</text>
<text x="${PAD_L + plotW / 2}" y="${H - 6}" text-anchor="middle">${note}</text>
${bars}
${points ? html`<polyline class="q" points="${points}"/>` : html``}
${dots}
</svg>`;
}
