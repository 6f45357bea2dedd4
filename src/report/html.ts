/**
 * The HTML report: one self-contained file (chart.js inlined, no network) with three charts, the
 * comparison table, what the counts include, and the claims checked. Browser-safe: the chart.js
 * UMD source comes in as a string from whoever has file access.
 */
import { COUNTING_NOTES, kvBytesAt, type ClaimCheck } from '../analysis/index.js';
import * as f from './format.js';
import { CLAIM_HEADERS, claimCells, comparisonSections, type ComparedModel } from './rows.js';

export interface HtmlOptions {
  /** Source of chart.js's UMD bundle (chart.umd.js), inlined verbatim. */
  chartJs: string;
  title?: string;
}

/** Context lengths the KV chart plots: powers of two from 1K to 128K. */
export const KV_CHART_CONTEXTS = Array.from({ length: 8 }, (_, i) => 1024 * 2 ** i);

/** Parameter groups of the "where the parameters sit" chart. */
const WHERE: Array<[string, (b: ComparedModel['params']['breakdown']) => number]> = [
  ['attention', (b) => b.attention],
  ['routed experts', (b) => b.routed_experts],
  ['shared experts', (b) => b.shared_experts],
  ['dense MLPs', (b) => b.dense_mlp],
  ['embedding + LM head', (b) => b.embedding + b.lm_head],
  ['norms + routers', (b) => b.norm + b.router + b.mtp_proj],
];

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JSON safe inside <script>: no "</script>" or "<!--" can appear. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

export interface ChartData {
  names: string[];
  kv: { contexts: number[]; bytes: number[][]; dtype: string };
  params: { total: number[]; active: number[] };
  where: { labels: string[]; percent: number[][] };
}

export function chartData(models: ComparedModel[]): ChartData {
  return {
    names: models.map((m) => m.name),
    kv: {
      contexts: KV_CHART_CONTEXTS,
      bytes: models.map((m) => KV_CHART_CONTEXTS.map((n) => kvBytesAt(m.kv_cache, n))),
      dtype: models[0]?.kv_cache.dtype ?? 'bf16',
    },
    params: { total: models.map((m) => m.params.total / 1e9), active: models.map((m) => m.params.active / 1e9) },
    where: {
      labels: WHERE.map(([l]) => l),
      percent: WHERE.map(([, part]) => models.map((m) => (100 * part(m.params.breakdown)) / m.params.total)),
    },
  };
}

function comparisonTable(models: ComparedModel[]): string {
  const head = `<tr><th></th>${models.map((m) => `<th>${esc(m.name)}</th>`).join('')}</tr>`;
  const body = comparisonSections(models)
    .map(
      (s) =>
        `<tr class="section"><th colspan="${models.length + 1}">${esc(s.title)}</th></tr>` +
        s.rows.map((r) => `<tr><td>${esc(r.label.trim())}</td>${r.cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join(''),
    )
    .join('\n');
  return `<table class="compare"><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function claimsSection(models: ComparedModel[]): string {
  const parts = models.map((m) => {
    const claims: ClaimCheck[] = m.claims ?? [];
    if (claims.length === 0) return `<h3>${esc(m.name)}</h3><p>No published claims on file.</p>`;
    const rows = claims
      .map((c) => {
        const cells = claimCells(c);
        return `<tr class="${c.verdict}">${cells.map((x) => `<td>${esc(x)}</td>`).join('')}</tr>`;
      })
      .join('');
    return `<h3>${esc(m.name)}</h3><table class="claims"><thead><tr>${CLAIM_HEADERS.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table>`;
  });
  return `<section id="claims"><h2>Claims checked</h2><p>What the publishers state (model cards, papers; see src/config/presets/CLAIMS.md) against what Owl computes from the config, under the claim's own counting convention.</p>${parts.join('\n')}</section>`;
}

/** Page script: builds the three charts from DATA once chart.js has loaded. */
const PAGE_SCRIPT = `
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];
const color = (i) => COLORS[i % COLORS.length];
function human(bytes) {
  const u = [[1e12, 'TB'], [1e9, 'GB'], [1e6, 'MB'], [1e3, 'KB']];
  for (const [s, n] of u) if (bytes >= s) return (bytes / s).toPrecision(3) + ' ' + n;
  return bytes + ' B';
}
const isPow10 = (v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;
const tokens = (n) => (n >= 1024 ? n / 1024 + 'K' : String(n));
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
new Chart(document.getElementById('chart-kv'), {
  type: 'line',
  data: {
    datasets: DATA.names.map((name, i) => ({
      label: name,
      data: DATA.kv.contexts.map((x, j) => ({ x, y: DATA.kv.bytes[i][j] })),
      borderColor: color(i), backgroundColor: color(i), tension: 0,
    })),
  },
  options: {
    plugins: { title: { display: true, text: 'KV cache (' + DATA.kv.dtype + ') vs context length' },
      tooltip: { callbacks: { label: (c) => c.dataset.label + ': ' + human(c.parsed.y) } } },
    scales: {
      x: { type: 'logarithmic', title: { display: true, text: 'context (tokens)' },
        afterBuildTicks: (ax) => { ax.ticks = DATA.kv.contexts.map((v) => ({ value: v })); },
        ticks: { callback: (v) => tokens(v) } },
      y: { type: 'logarithmic', title: { display: true, text: 'bytes (log scale)' }, ticks: { callback: (v) => (isPow10(v) ? human(v) : '') } },
    },
  },
});
// Log scale once the smallest active count would vanish next to the largest total.
const PARAMS_LOG = Math.max(...DATA.params.total) / Math.min(...DATA.params.active) > 50;
new Chart(document.getElementById('chart-params'), {
  type: 'bar',
  data: {
    labels: DATA.names,
    datasets: [
      { label: 'total', data: DATA.params.total, backgroundColor: '#94a3b8' },
      { label: 'active per token (incl. embedding + head)', data: DATA.params.active, backgroundColor: '#2563eb' },
    ],
  },
  options: {
    plugins: { title: { display: true, text: 'Total vs active parameters (billions)' } },
    scales: { y: { type: PARAMS_LOG ? 'logarithmic' : 'linear', title: { display: true, text: PARAMS_LOG ? 'parameters (B, log scale)' : 'parameters (B)' } } },
  },
});
new Chart(document.getElementById('chart-where'), {
  type: 'bar',
  data: {
    labels: DATA.names,
    datasets: DATA.where.labels.map((label, k) => ({ label, data: DATA.where.percent[k], backgroundColor: color(k) })),
  },
  options: {
    indexAxis: 'y',
    plugins: { title: { display: true, text: 'Where the parameters sit (% of total, main model)' },
      tooltip: { callbacks: { label: (c) => c.dataset.label + ': ' + c.parsed.x.toFixed(2) + '%' } } },
    scales: { x: { stacked: true, max: 100, title: { display: true, text: '% of total parameters' } }, y: { stacked: true } },
  },
});
`;

const CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #111827; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #e5e7eb; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 1.5rem; }
.chart { position: relative; height: 340px; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #e5e7eb; padding: 4px 8px; text-align: left; vertical-align: top; }
table.compare td:not(:first-child) { font-variant-numeric: tabular-nums; }
tr.section th { background: #f3f4f6; }
tr.disagrees td { background: #fee2e2; } tr.truncated td { background: #fef3c7; }
tr.agrees td:nth-child(5), tr.rounded td:nth-child(5) { color: #15803d; }
.notes li { margin: .3rem 0; }
`;

export function renderHtml(models: ComparedModel[], opts: HtmlOptions): string {
  const title = opts.title ?? `Owl: ${models.map((m) => m.name).join(' vs ')}`;
  const dtype = models[0]?.kv_cache.dtype ?? 'bf16';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p>Computed by Owl from each model's config.json. KV cache in ${esc(dtype)}; FLOPs at ${esc(f.integer(models[0]?.flops.context ?? 0))} tokens of context. Exact integers: <code>owl compare --format json</code>.</p>
<h2>Charts</h2>
<div class="charts">
<div class="chart"><canvas id="chart-kv" aria-label="KV cache vs context length"></canvas></div>
<div class="chart"><canvas id="chart-params" aria-label="Total vs active parameters"></canvas></div>
<div class="chart"><canvas id="chart-where" aria-label="Where the parameters sit"></canvas></div>
</div>
<h2>Comparison</h2>
${comparisonTable(models)}
<h2>What the counts include</h2>
<ul class="notes">${COUNTING_NOTES.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
${claimsSection(models)}
<script>${opts.chartJs.replace(/<\/script/gi, '<\\/script')}</script>
<script>
const DATA = ${scriptJson(chartData(models))};
${PAGE_SCRIPT}
</script>
</body>
</html>
`;
}
