/**
 * Server-rendered pages of the dashboard. Every value comes into markup through
 * the `html` template (html.ts), which escapes it; the client script only ever
 * sets `textContent` and never parses markup.
 */
import { ALL_STATUSES, type JobRecord, type JobStatus, type QueueStats } from '@jqjobs/core';
import { html, raw, type SafeHtml } from './html.ts';

export interface PageContext {
  nonce: string;
  csrf: string;
  /** Shown in the header, e.g. "postgres" — never the URL (it may hold a password). */
  storeLabel: string;
}

/** The order statuses appear in tables: the ones an operator acts on first. */
export const STATUS_COLUMNS: readonly JobStatus[] = ['queued', 'running', 'wait_async', 'failed', 'completed', 'unqueued'];

const FLASH: Record<string, string> = {
  restarted: 'Job restarted: it is queued and will run again.',
  retried: 'Job retried: it is queued with a fresh set of attempts.',
  deleted: 'Job deleted.',
  resolved: 'Job resolved.',
};

const CSS = `
*{box-sizing:border-box}body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}header .store{margin-left:auto;opacity:.7;font-size:12px}
main{padding:1rem 1.2rem;max-width:1200px}h1{font-size:1.3rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
table{border-collapse:collapse;background:#fff;width:100%}th,td{border:1px solid #d0d7de;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}tr.total td{font-weight:600;background:#f3f4f6}
a{color:#0969da}.flash{background:#dafbe1;border:1px solid #4ac26b;padding:.5rem .8rem;margin-bottom:1rem}
.error{background:#ffebe9;border:1px solid #ff8182;padding:.5rem .8rem;margin-bottom:1rem}
.muted{color:#656d76;font-size:12px}pre{background:#fff;border:1px solid #d0d7de;padding:.6rem;overflow:auto;max-height:28rem;white-space:pre-wrap;word-break:break-word}
.badge{display:inline-block;padding:0 .45rem;border-radius:1rem;font-size:12px;background:#eaeef2}
.s-failed{background:#ffd8d3}.s-running{background:#ddf4ff}.s-queued{background:#fff8c5}.s-completed{background:#dafbe1}.s-wait_async{background:#fbefff}
form.inline{display:inline}button{font:inherit;padding:.25rem .7rem;cursor:pointer}.actions{display:flex;gap:.6rem;flex-wrap:wrap;align-items:flex-start;margin:.6rem 0}
.filters{display:flex;gap:.6rem;align-items:end;margin-bottom:.8rem;flex-wrap:wrap}.filters label{display:flex;flex-direction:column;font-size:12px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;background:#fff;border:1px solid #d0d7de;padding:.7rem}dt{font-weight:600}dd{margin:0;word-break:break-word}
textarea{width:100%;font-family:ui-monospace,monospace}.pager{margin:.6rem 0;display:flex;gap:1rem;align-items:center}
`;

/**
 * The page script. Static text (no data is ever interpolated into it): confirm
 * prompts for destructive forms, and live refresh of the overview's counts from
 * `/api/stats`, written with `textContent` only.
 */
const SCRIPT = `
document.addEventListener('submit', function (e) {
  var f = e.target; var msg = f && f.getAttribute && f.getAttribute('data-confirm');
  if (msg && !window.confirm(msg)) e.preventDefault();
});
(function () {
  var every = Number(document.body.getAttribute('data-refresh-ms') || 0);
  if (!every) return;
  function age(ms) {
    if (ms === null || ms === undefined) return '—';
    var s = Math.floor(ms / 1000);
    if (s < 60) return s + ' s'; if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d';
  }
  function put(cell, text) { if (!cell) return; var a = cell.querySelector('a'); (a || cell).textContent = String(text); }
  var note = document.getElementById('updated');
  function tick() {
    fetch('/api/stats', { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error('signed out'); }
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(function (data) {
        var rows = Array.prototype.slice.call(document.querySelectorAll('tr[data-queue]'));
        var same = rows.length === data.queues.length && data.queues.every(function (q, i) { return rows[i].getAttribute('data-queue') === q.queueName; });
        if (!same) { window.location.reload(); return; }
        var totals = {}; var all = 0; var due = 0;
        data.queues.forEach(function (q, i) {
          var sum = 0;
          rows[i].querySelectorAll('[data-status]').forEach(function (td) {
            var s = td.getAttribute('data-status'); var v = q.counts[s] || 0;
            totals[s] = (totals[s] || 0) + v; sum += v; put(td, v);
          });
          var d = typeof q.dueCount === 'number' ? q.dueCount : (q.counts.queued || 0); due += d;
          all += sum; put(rows[i].querySelector('[data-col=total]'), sum); put(rows[i].querySelector('[data-col=due]'), d); put(rows[i].querySelector('[data-col=age]'), age(q.oldestQueuedAgeMs));
        });
        var t = document.querySelector('tr[data-totals]');
        if (t) { t.querySelectorAll('[data-status]').forEach(function (td) { put(td, totals[td.getAttribute('data-status')] || 0); }); put(t.querySelector('[data-col=total]'), all); put(t.querySelector('[data-col=due]'), due); }
        var img = document.getElementById('chart'); if (img) img.setAttribute('src', '/chart.svg?t=' + Date.now());
        if (note) note.textContent = 'updated ' + new Date().toLocaleTimeString();
      })
      .catch(function (err) { if (note) note.textContent = 'refresh failed: ' + err.message; })
      .then(function () { setTimeout(tick, every); });
  }
  setTimeout(tick, every);
})();
`;

export function formatTime(d: Date | null): string {
  if (d === null) return '—';
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function formatAge(ms: number | null): string {
  if (ms === null) return '—';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d`;
}

/** A configured interval for humans: "250 ms", "5 s", "1.5 s". */
export function formatInterval(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}

export function jobHref(id: string): string {
  return `/jobs/${encodeURIComponent(id)}`;
}

function listHref(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `/jobs?${s}` : '/jobs';
}

function badge(status: string): SafeHtml {
  return html`<span class="badge s-${status}">${status}</span>`;
}

export function layout(ctx: PageContext, title: string, body: SafeHtml, options: { refreshMs?: number } = {}): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="same-origin"><title>${title} · jqjobs admin</title>
<style nonce="${ctx.nonce}">${raw(CSS)}</style></head>
<body data-refresh-ms="${options.refreshMs ?? 0}">
<header><a href="/">jqjobs admin</a><a href="/jobs">Jobs</a><span class="store">store: ${ctx.storeLabel}</span></header>
<main>${body}</main>
<script nonce="${ctx.nonce}">${raw(SCRIPT)}</script>
</body></html>`.value;
}

function flash(done: string | null, extra?: SafeHtml): SafeHtml {
  const text = done === null ? undefined : FLASH[done];
  if (!text && !extra) return html``;
  return html`<div class="flash" role="status">${text ?? ''}${extra ?? ''}</div>`;
}

function csrfField(ctx: PageContext): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;
}

export function sortStats(stats: readonly QueueStats[]): QueueStats[] {
  return [...stats].sort((a, b) => (a.queueName < b.queueName ? -1 : a.queueName > b.queueName ? 1 : 0));
}

export function overviewPage(ctx: PageContext, stats: readonly QueueStats[], opts: { refreshMs: number; done: string | null; hungRetried: number | null; sampleIntervalMs: number }): string {
  const queues = sortStats(stats);
  const totals: Record<string, number> = {};
  let all = 0;
  let dueAll = 0;
  const rows = queues.map((q) => {
    let sum = 0;
    const cells = STATUS_COLUMNS.map((s) => {
      const v = q.counts[s] ?? 0;
      sum += v;
      totals[s] = (totals[s] ?? 0) + v;
      return html`<td class="n" data-status="${s}"><a href="${listHref({ queue: q.queueName, status: s })}">${v}</a></td>`;
    });
    all += sum;
    // A store written before dueCount existed: count every queued job as due.
    const due = q.dueCount ?? q.counts.queued ?? 0;
    dueAll += due;
    return html`<tr data-queue="${q.queueName}"><th scope="row"><a href="${listHref({ queue: q.queueName })}">${q.queueName}</a></th>${cells}<td class="n" data-col="total">${sum}</td><td class="n" data-col="due">${due}</td><td class="n" data-col="age">${formatAge(q.oldestQueuedAgeMs)}</td></tr>`;
  });
  const hung = opts.done === 'detect-hung' && opts.hungRetried !== null ? html`Hung-job detection retried ${opts.hungRetried} job(s).` : undefined;
  const body = html`${flash(opts.done, hung)}
<h1>Queues</h1>
<table id="stats"><thead><tr><th>queue</th>${STATUS_COLUMNS.map((s) => html`<th class="n">${s}</th>`)}<th class="n">total</th><th class="n" title="Queued jobs whose time has come (the rest are scheduled for later)">due</th><th class="n" title="Age of the oldest queued job that is due">oldest queued</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="${STATUS_COLUMNS.length + 4}" class="muted">No jobs in the store.</td></tr>`}</tbody>
<tfoot><tr class="total" data-totals><th scope="row">all queues</th>${STATUS_COLUMNS.map((s) => html`<td class="n" data-status="${s}"><a href="${listHref({ status: s })}">${totals[s] ?? 0}</a></td>`)}<td class="n" data-col="total">${all}</td><td class="n" data-col="due">${dueAll}</td><td></td></tr></tfoot></table>
<p class="muted"><span id="updated">live: refreshes every ${formatInterval(opts.refreshMs)}</span></p>
<h2>Throughput, last hour</h2>
<img id="chart" src="/chart.svg" width="640" height="180" alt="Jobs finished per minute over the last hour">
<p class="muted">Bars: jobs finished per minute (a lower bound: the dashboard samples <code>stats()</code> every ${formatInterval(opts.sampleIntervalMs)} and cannot see jobs that were enqueued and finished between two samples). Line: queued jobs. History starts when this dashboard starts.</p>
<h2>Maintenance</h2>
<form method="post" action="/actions/detect-hung" class="inline">${csrfField(ctx)}<button type="submit">Detect hung jobs now</button></form>`;
  return layout(ctx, 'Queues', body, { refreshMs: opts.refreshMs });
}

export interface ListState {
  queue: string | undefined;
  status: JobStatus | undefined;
  limit: number;
  offset: number;
}

export function jobsPage(ctx: PageContext, jobs: readonly JobRecord[], total: number, state: ListState, queueNames: readonly string[], done: string | null): string {
  const first = jobs.length ? state.offset + 1 : 0;
  const last = state.offset + jobs.length;
  const base = { queue: state.queue, status: state.status, limit: state.limit === 50 ? undefined : state.limit };
  const prev = state.offset > 0 ? listHref({ ...base, offset: Math.max(0, state.offset - state.limit) || undefined }) : null;
  const next = last < total ? listHref({ ...base, offset: last }) : null;
  const queueOptions = [...new Set([...queueNames, ...(state.queue ? [state.queue] : [])])].sort();
  const rows = jobs.map((j) => {
    const err = j.errorMessage ? (j.errorMessage.split('\n')[0] ?? '').slice(0, 100) : '';
    return html`<tr data-job-id="${j.id}"><td><a href="${jobHref(j.id)}">${j.id}</a></td><td>${j.type}</td><td>${j.queueName}</td><td>${badge(j.status)}</td><td class="n">${j.priority}</td><td class="n">${j.attemptNumber}/${j.maxAttempts}</td><td>${formatTime(j.createdAt)}</td><td>${formatTime(j.startAt)}</td><td>${formatTime(j.startedAt)}</td><td>${err}</td></tr>`;
  });
  const body = html`${flash(done)}
<h1>Jobs</h1>
<form class="filters" method="get" action="/jobs">
<label>queue<select name="queue"><option value="">any</option>${queueOptions.map((q) => html`<option value="${q}"${q === state.queue ? raw(' selected') : ''}>${q}</option>`)}</select></label>
<label>status<select name="status"><option value="">any</option>${ALL_STATUSES.map((s) => html`<option value="${s}"${s === state.status ? raw(' selected') : ''}>${s}</option>`)}</select></label>
<label>per page<select name="limit">${[25, 50, 100, 200].map((n) => html`<option value="${n}"${n === state.limit ? raw(' selected') : ''}>${n}</option>`)}</select></label>
<button type="submit">Filter</button></form>
<div class="pager"><span id="range">${first}–${last} of ${total}</span>${prev ? html`<a href="${prev}" rel="prev">← previous</a>` : ''}${next ? html`<a href="${next}" rel="next">next →</a>` : ''}</div>
<table id="jobs"><thead><tr><th>id</th><th>type</th><th>queue</th><th>status</th><th class="n">priority</th><th class="n">attempt</th><th>created</th><th>run at</th><th>started</th><th>last error</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="10" class="muted">No jobs match.</td></tr>`}</tbody></table>`;
  return layout(ctx, 'Jobs', body);
}

export function jobPage(ctx: PageContext, job: JobRecord, opts: { description: string | null; done: string | null; canResolve: boolean }): string {
  let payload: string;
  try {
    payload = JSON.stringify(job.payload, null, 2) ?? 'null';
  } catch {
    payload = String(job.payload);
  }
  const id = job.id;
  const action = (name: string) => `${jobHref(id)}/${name}`;
  const field = (name: string, value: SafeHtml | string | number | boolean | null) => html`<dt>${name}</dt><dd>${value === null ? '—' : value}</dd>`;
  const history = [
    html`<tr><td>enqueued</td><td>${formatTime(job.createdAt)}</td><td></td></tr>`,
    html`<tr><td>scheduled to run</td><td>${job.startAt === null ? (job.status === 'queued' ? 'due since its restart' : '—') : formatTime(job.startAt)}</td><td></td></tr>`,
    job.startedAt !== null ? html`<tr><td>attempt ${job.attemptNumber} started</td><td>${formatTime(job.startedAt)}</td><td></td></tr>` : '',
    job.endedAt !== null ? html`<tr><td>ended</td><td>${formatTime(job.endedAt)}</td><td>${badge(job.status)}</td></tr>` : '',
  ];
  const body = html`${flash(opts.done)}
<h1>Job <span id="job-id">${id}</span> ${badge(job.status)}</h1>
<div class="actions">
<form method="post" action="${action('restart')}" data-confirm="Restart this job? It goes back to queued with its attempts reset${job.status === 'running' ? '; the running attempt will be discarded' : ''}.">${csrfField(ctx)}<button type="submit" name="action" value="restart">Restart</button></form>
${job.status === 'failed' ? html`<form method="post" action="${action('retry')}">${csrfField(ctx)}<button type="submit" name="action" value="retry">Retry</button></form>` : ''}
<form method="post" action="${action('delete')}" data-confirm="Delete this job for good?">${csrfField(ctx)}<button type="submit" name="action" value="delete">Delete</button></form>
</div>
<dl id="fields">
${field('type', job.type)}
${opts.description !== null ? field('description', opts.description) : ''}
${field('queue', job.queueName)}
${field('status', job.status)}
${field('priority', job.priority)}
${field('attempt', `${job.attemptNumber} of ${job.maxAttempts}`)}
${field('coalesce id', job.coalesceId)}
${field('max runtime', job.maxRuntimeSeconds === null ? null : `${job.maxRuntimeSeconds} s`)}
${field('delete on complete', job.deleteOnComplete ? 'yes' : 'no')}
${field('backoff', job.backoff === null ? null : JSON.stringify(job.backoff))}
${field('created', formatTime(job.createdAt))}
${field('scheduled start', formatTime(job.startAt))}
${field('started', formatTime(job.startedAt))}
${field('ended', formatTime(job.endedAt))}
</dl>
<h2>Payload</h2>
<pre id="payload">${payload}</pre>
<h2>Last error</h2>
${job.errorMessage === null ? html`<p class="muted">none</p>` : html`<pre id="error">${job.errorMessage}</pre>`}
<h2>History</h2>
<table id="history"><thead><tr><th>event</th><th>time</th><th></th></tr></thead><tbody>${history}</tbody></table>
<p class="muted">The store keeps one record per job, not an event log: this is what the record holds. Each attempt overwrites the start time and the last error of the one before, and a restart clears the schedule, the attempt count and the error.</p>
${job.status === 'wait_async'
  ? html`<h2>Resolve</h2>
<form method="post" action="${action('resolve')}" id="resolve">${csrfField(ctx)}
<label for="resolve-data">Data passed to <code>${job.type}.resolveWaitAsync(payload, data)</code>, as JSON:</label>
<textarea id="resolve-data" name="data" rows="5">{}</textarea>
<label><input type="checkbox" name="convertExceptionToFailure" value="1"> fail the job if the resolver throws (otherwise it stays wait_async)</label>
<div class="actions"><button type="submit">Resolve</button></div>
${opts.canResolve ? '' : html`<p class="muted">The job type is not loaded in this dashboard, so resolving will fail: start it with <code>--require &lt;module defining ${job.type}&gt;</code>.</p>`}
</form>`
  : ''}`;
  return layout(ctx, `Job ${id}`, body);
}

export function errorPage(ctx: PageContext, status: number, title: string, message: string, back: string | null): string {
  const body = html`<h1>${title}</h1><div class="error" role="alert" id="error-message">${message}</div>${back ? html`<p><a href="${back}">← back</a></p>` : ''}`;
  return layout(ctx, `${status} ${title}`, body);
}

/** The page for a request without the token: says how to get in, shows nothing else. */
export function unauthorizedPage(nonce: string): string {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>401 · jqjobs admin</title><style nonce="${nonce}">body{font:15px system-ui,sans-serif;margin:3rem}</style></head>
<body><h1>401 — token required</h1><p>Open the URL printed when the dashboard started (it ends in <code>/?token=…</code>) once; the browser then keeps a session cookie. Scripts send <code>Authorization: Bearer &lt;token&gt;</code>.</p></body></html>`.value;
}
