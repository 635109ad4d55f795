// The demo's HTML report: one self-contained file (inline CSS and SVG, no script to run, nothing
// fetched), readable from disk or as an attachment. The raw series are embedded as JSON too, so
// the numbers behind the charts can be checked.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const esc = (value) =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

const COLORS = { used: '#d9534f', idle: '#5cb85c', waiting: '#337ab7', failed: '#8e2c2a', culprit: '#f0ad4e' };

/** A round upper bound for an axis: 10, 20, 25, 50, 100… */
function niceMax(value) {
  if (value <= 10) return 10;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (value <= m * step) return m * step;
  return 10 * step;
}

function ticks(max, count) {
  const step = max / count;
  return Array.from({ length: count + 1 }, (_, i) => Math.round(i * step * 100) / 100);
}

/**
 * One run's chart: connections (used stacked on idle) on top, requests waiting for a connection and
 * failed requests per second below. Both runs share the same scales, so they compare at a glance.
 */
function chart(run, scale) {
  const W = 1120;
  const left = 64;
  const right = 24;
  const plotW = W - left - right;
  const top1 = 40;
  const h1 = 170;
  const top2 = top1 + h1 + 46;
  const h2 = 130;
  const H = top2 + h2 + 44;
  const x = (ms) => left + (Math.min(ms, scale.durationMs) / scale.durationMs) * plotW;
  const y1 = (v) => top1 + h1 - (v / scale.connections) * h1;
  const y2 = (v) => top2 + h2 - (Math.min(v, scale.requests) / scale.requests) * h2;
  const s = run.samples;
  const parts = [];

  // Grid and axes.
  const seconds = scale.durationMs / 1000;
  const xStep = [1, 2, 5, 10, 20, 30, 60].find((step) => seconds / step <= 12) ?? 60;
  const xTicks = Array.from({ length: Math.floor(seconds / xStep) + 1 }, (_, i) => i * xStep);
  for (const t of xTicks) {
    const px = x(t * 1000);
    parts.push(`<line x1="${px}" y1="${top1}" x2="${px}" y2="${top1 + h1}" class="grid"/><line x1="${px}" y1="${top2}" x2="${px}" y2="${top2 + h2}" class="grid"/>`);
    parts.push(`<text x="${px}" y="${top2 + h2 + 18}" class="tick" text-anchor="middle">${t}</text>`);
  }
  for (const v of ticks(scale.connections, 5)) {
    parts.push(`<line x1="${left}" y1="${y1(v)}" x2="${left + plotW}" y2="${y1(v)}" class="grid"/><text x="${left - 8}" y="${y1(v) + 4}" class="tick" text-anchor="end">${v}</text>`);
  }
  for (const v of ticks(scale.requests, scale.requests % 5 === 0 ? 5 : 4)) {
    parts.push(`<line x1="${left}" y1="${y2(v)}" x2="${left + plotW}" y2="${y2(v)}" class="grid"/><text x="${left - 8}" y="${y2(v) + 4}" class="tick" text-anchor="end">${v}</text>`);
  }
  parts.push(`<text x="${left}" y="${top1 - 10}" class="axis">connections (pool max ${scale.connections})</text>`);
  parts.push(`<text x="${left}" y="${top2 - 10}" class="axis">requests waiting for a connection; failed requests per second</text>`);
  parts.push(`<text x="${left + plotW / 2}" y="${H - 6}" class="axis" text-anchor="middle">seconds since the run started</text>`);

  if (s.length > 1) {
    // Stacked areas: idle on top of used, so the top edge is the pool's total.
    const usedTop = s.map((p) => `${x(p.t)},${y1(p.used)}`);
    const totalTop = s.map((p) => `${x(p.t)},${y1(p.used + p.idle)}`);
    const base = `${x(s[s.length - 1].t)},${y1(0)} ${x(s[0].t)},${y1(0)}`;
    parts.push(`<polygon points="${totalTop.join(' ')} ${[...usedTop].reverse().join(' ')}" fill="${COLORS.idle}" fill-opacity="0.55"/>`);
    parts.push(`<polygon points="${usedTop.join(' ')} ${base}" fill="${COLORS.used}" fill-opacity="0.75"/>`);
    // Failed requests per second, as bars under the waiting line.
    const barW = Math.max(2, (1000 / scale.durationMs) * plotW - 3);
    run.failuresPerSecond.forEach((n, i) => {
      if (n > 0) parts.push(`<rect x="${x(i * 1000) + 1.5}" y="${y2(n)}" width="${barW}" height="${y2(0) - y2(n)}" fill="${COLORS.failed}" fill-opacity="0.7"/>`);
    });
    const waitingPts = s.map((p) => `${x(p.t)},${y2(p.waiting)}`);
    parts.push(`<polyline points="${waitingPts.join(' ')}" fill="none" stroke="${COLORS.waiting}" stroke-width="2.5"/>`);
  }
  // Traffic stops at the run's nominal duration; what follows is the last requests being answered.
  if (run.durationMs < scale.durationMs) {
    const px = x(run.durationMs);
    parts.push(`<line x1="${px}" y1="${top1}" x2="${px}" y2="${top2 + h2}" stroke="#666" stroke-width="1.5" stroke-dasharray="2 3"/>`);
    parts.push(`<text x="${px - 6}" y="${top2 + 14}" class="tick" text-anchor="end">traffic stops</text>`);
  }
  if (run.culprit) {
    const px = x(run.culprit.atMs);
    parts.push(`<line x1="${px}" y1="${top1 - 4}" x2="${px}" y2="${top2 + h2}" stroke="${COLORS.culprit}" stroke-width="2.5" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${px + 6}" y="${top1 + 14}" class="marker">culprit named at ${(run.culprit.atMs / 1000).toFixed(1)} s: ${esc(run.culprit.site)}</text>`);
  }
  parts.push(`<rect x="${left}" y="${top1}" width="${plotW}" height="${h1}" class="frame"/><rect x="${left}" y="${top2}" width="${plotW}" height="${h2}" class="frame"/>`);

  return `<svg viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="${esc(run.title)}: pool state over time">${parts.join('')}</svg>`;
}

function legend() {
  const item = (color, label, kind = 'box') => {
    const mark =
      kind === 'box'
        ? `<rect width="22" height="12" fill="${color}"/>`
        : `<line x1="0" y1="6" x2="22" y2="6" stroke="${color}" stroke-width="3"${kind === 'dash' ? ' stroke-dasharray="5 3"' : ''}/>`;
    return `<span class="key"><svg width="22" height="12">${mark}</svg>${esc(label)}</span>`;
  };
  return `<div class="legend">${item(COLORS.used, 'connections in use')}${item(COLORS.idle, 'connections idle in the pool')}${item(COLORS.waiting, 'requests waiting for a connection', 'line')}${item(COLORS.failed, 'failed requests per second')}${item(COLORS.culprit, 'poolguard names the culprit', 'dash')}</div>`;
}

/** Seconds to one decimal, truncated: an event at 6.97 s is in the chart's second 6, and says 6.9 s. */
export const seconds = (ms) => `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;

const pct = (v) => `${(v * 100).toFixed(1)} %`;
const ms = (v) => (v === undefined ? '–' : `${Math.round(v)} ms`);

function summaryTable(runs) {
  const row = (label, f) => `<tr><th>${esc(label)}</th>${runs.map((r) => `<td>${f(r)}</td>`).join('')}</tr>`;
  return `<table class="summary"><thead><tr><th></th>${runs.map((r) => `<th>${esc(r.title)}</th>`).join('')}</tr></thead><tbody>
${row('pool class', (r) => `<code>${esc(r.importLine)}</code>`)}
${row('requests answered without error', (r) => `${pct(r.successRate)} <span class="dim">(${r.ok} of ${r.total})</span>`)}
${row('failed requests', (r) => `${r.failed}${r.timeouts ? ` <span class="dim">(${r.timeouts} checkout timeouts)</span>` : ''}${r.unanswered?.length ? ` <span class="dim">(${r.unanswered.length} unanswered when the run ended: ${esc(r.unanswered.map((u) => u.route).join(', '))})</span>` : ''}`)}
${row('first failure', (r) => (r.firstFailureMs === undefined ? 'none' : seconds(r.firstFailureMs)))}
${row('latency p50 / p99 of the requests answered without error', (r) => `${ms(r.p50)} / ${ms(r.p99)}`)}
${row('time until the error, p50 of the failed requests', (r) => (r.failedP50 === undefined ? '<span class="dim">none failed</span>' : ms(r.failedP50)))}
${row('culprit named after', (r) => (r.culprit ? `<strong>${(r.culprit.atMs / 1000).toFixed(1)} s</strong>` : 'never'))}
${row('culprit', (r) => (r.culprit ? `<code>${esc(r.culprit.site)}</code>` : '<span class="dim">nothing says who holds the connections</span>'))}
${row('leases reported as leaks / reclaimed, when the run ended', (r) => (r.guarded ? `${r.leaks} / ${r.reclaims}` : '<span class="dim">not tracked</span>'))}
</tbody></table>`;
}

function errorSamples(run) {
  if (!run.errorSamples.length) return `<p class="dim">No request failed.</p>`;
  return run.errorSamples.map((e) => `<pre class="error">${esc(e)}</pre>`).join('');
}

function leakReports(run) {
  if (!run.guarded) return '<p class="dim">Plain pg.Pool does not track checkouts: no report.</p>';
  if (!run.leakReports.length) return '<p class="dim">No leak was reported.</p>';
  const shown = run.leakReports.slice(0, 3);
  const more = run.leakReports.length - shown.length;
  return (
    shown.map((r) => `<div class="leak"><p><strong>${(r.atMs / 1000).toFixed(1)} s</strong> · <code>${esc(r.site)}</code> · held ${Math.round(r.heldMs)} ms · ${esc(r.state)}</p><pre>${esc(r.message?.includes(r.stack?.split('\n')[0]?.trim() ?? '\u0000') ? r.message : `${r.message}\n${r.stack ?? ''}`)}</pre></div>`).join('') +
    (more > 0 ? `<p class="dim">… and ${more} more report${more === 1 ? '' : 's'}, all from ${esc([...new Set(run.leakReports.map((r) => r.site))].join(', '))}.</p>` : '') +
    (run.totals
      ? `<p>poolguard's totals when the run ended (<code>pool.guard.snapshot().totals</code>, taken at the same moment as the leak and reclaim counts above; <code>leaks</code> counts leases reported, <code>reclaims</code> leases taken back, <code>timeouts</code> checkouts that gave up, <code>retired</code> connections closed, by reason):</p><pre>${esc(JSON.stringify(run.totals, null, 1).replace(/\n\s*/g, ' '))}</pre>`
      : '')
  );
}

function auditSection(audit) {
  if (!audit.available) return `<p class="dim">audit: not available in this build.</p>`;
  if (audit.error) return `<p>audit failed: ${esc(audit.error)}</p>`;
  if (!audit.findings.length) return '<p>No finding: the settings agree with each other and with the server.</p>';
  return `<table class="findings"><thead><tr><th>severity</th><th>rule</th><th>finding</th><th>fix</th></tr></thead><tbody>${audit.findings
    .map((f) => `<tr class="${esc(f.severity)}"><td>${esc(f.severity)}</td><td><code>${esc(f.rule)}</code></td><td>${esc(f.message)}${f.why ? `<br><span class="dim">${esc(f.why)}</span>` : ''}</td><td>${esc(f.fix)}</td></tr>`)
    .join('')}</tbody></table>`;
}

/** Writes the report to `path` (creating its folder) and returns the HTML. */
export function writeReport(path, data) {
  const { runs, audit, meta } = data;
  const scale = {
    // The load's last answers and the last samples come after the run's nominal duration.
    durationMs: Math.ceil(Math.max(...runs.flatMap((r) => [r.endMs ?? r.durationMs, ...r.samples.map((p) => p.t)])) / 1000) * 1000,
    connections: meta.max,
    requests: niceMax(Math.max(1, ...runs.flatMap((r) => [...r.samples.map((p) => p.waiting), ...r.failuresPerSecond]))),
  };
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>poolguard demo: the outage, replayed twice</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:24px auto;max-width:1160px;padding:0 16px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:16px;margin:18px 0 6px}
.dim{color:#777}code,pre{font:13px/1.4 ui-monospace,"DejaVu Sans Mono",Menlo,monospace}pre{background:#f6f6f6;border:1px solid #e3e3e3;padding:8px 10px;overflow-x:auto;white-space:pre-wrap}
pre.error{border-left:4px solid ${COLORS.used}}table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ddd;padding:5px 10px;text-align:left;vertical-align:top}
table.summary td{min-width:300px}tr.error td:first-child{color:#b00;font-weight:bold}tr.warning td:first-child{color:#a60}
.legend{display:flex;flex-wrap:wrap;gap:18px;margin:8px 0 2px}.key{display:inline-flex;align-items:center;gap:6px}
svg .grid{stroke:#e6e6e6;stroke-width:1}svg .frame{fill:none;stroke:#999}svg .tick{font-size:12px;fill:#555}svg .axis{font-size:13px;fill:#333}svg .marker{font-size:13px;fill:#8a5a00;font-weight:bold}
</style></head><body>
<h1>poolguard demo: the outage, replayed twice</h1>
<p class="dim">${esc(meta.startedAt)} · ${esc(meta.database)} · ${new Set(runs.map((r) => r.total)).size === 1 ? runs[0].total : runs.map((r) => r.total).join(' and ')} requests per run at ${meta.ratePerSecond}/s for ${(meta.durationMs / 1000).toFixed(0)} s · pool max ${meta.max}, connectionTimeoutMillis ${meta.connectionTimeoutMillis}</p>
<p>The same service and the same traffic, twice. <code>POST /orders</code> forgets <code>client.release()</code> when an item is out of stock.
Run 1 uses plain <code>pg.Pool</code>; run 2 changes one import to <code>poolguard/pg</code>.</p>
${summaryTable(runs)}
<h2 id="charts">Pool state over time</h2>
${legend()}
${runs.map((r) => `<h3>${esc(r.title)}</h3>${chart(r, scale)}`).join('\n')}
<h2 id="leaks">Leak reports</h2>
${runs.map((r) => `<h3>${esc(r.title)}</h3>${leakReports(r)}`).join('\n')}
<h2 id="errors">What failing requests were told</h2>
${runs.map((r) => `<h3>${esc(r.title)}</h3>${errorSamples(r)}`).join('\n')}
<h2 id="audit">Configuration audit</h2>
${auditSection(audit)}
<h2 id="settings">Settings</h2>
<pre>${esc(JSON.stringify(meta.poolOptions, null, 2))}</pre>
<script type="application/json" id="demo-data">${json}</script>
</body></html>
`;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, html);
  return html;
}
