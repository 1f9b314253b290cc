import type { BenchRecord } from './record.js';
import { escapeHtml, groupedBarChart, scatterChart } from './svg-chart.js';
import { formatTable } from './table.js';

export interface ReportContext {
  model: string;
  text: string;
  backend: string;
  date: string;
  settings: Record<string, unknown>;
}

/** A self-contained HTML report: settings, the table, quality-vs-memory plots, per-layer memory. */
export function htmlReport(records: readonly BenchRecord[], context: ReportContext): string {
  const kib = (b: number) => b / 1024;
  const quality = scatterChart(
    records.map((r) => ({ x: kib(r.kvBytes), y: r.ppl, label: r.label })),
    { title: 'Perplexity vs resident KV memory', xLabel: 'resident KV (KiB, largest window)', yLabel: 'perplexity' },
  );
  const kl = scatterChart(
    records.map((r) => ({ x: r.compression, y: r.kl, label: r.label })),
    { title: 'KL to the dense cache vs compression', xLabel: 'compression vs f16 (×)', yLabel: 'KL (nats/token)' },
  );
  const recall = scatterChart(
    records.map((r) => ({ x: r.compression, y: r.passkey * 100, label: r.label })),
    { title: 'Passkey accuracy vs compression', xLabel: 'compression vs f16 (×)', yLabel: 'passkey accuracy (%)' },
  );
  const layers = records[0]?.kvLayerBytes.map((_, i) => `L${i}`) ?? [];
  const perLayer = groupedBarChart(
    layers,
    records.map((r) => ({ label: r.label, values: r.kvLayerBytes.map(kib) })),
    { title: 'Resident KV memory per layer', yLabel: 'KiB' },
  );
  const settings = Object.entries(context.settings)
    .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(JSON.stringify(v))}</td></tr>`)
    .join('');
  const parts = (r: BenchRecord) => Object.entries(r.kvParts).map(([k, v]) => `${k} ${(v / 1024).toFixed(1)} KiB`).join(', ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kv-bench report</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}pre{background:#f6f6f6;padding:1em;overflow-x:auto}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 8px;font-size:13px}.charts svg{margin:8px}</style></head>
<body><h1>kv-bench</h1>
<p>Model <b>${escapeHtml(context.model)}</b>, text <b>${escapeHtml(context.text)}</b>, backend <b>${escapeHtml(context.backend)}</b>, ${escapeHtml(context.date)}.</p>
<h2>Results</h2><pre>${escapeHtml(formatTable(records))}</pre>
<div class="charts">${quality}${kl}${recall}${perLayer}</div>
<h2>Resident memory by part</h2><table><tr><th>method</th><th>parts</th></tr>${records.map((r) => `<tr><td>${escapeHtml(r.label)}</td><td>${escapeHtml(parts(r))}</td></tr>`).join('')}</table>
<h2>Settings</h2><table>${settings}</table>
<h2>Raw records</h2><pre>${escapeHtml(JSON.stringify(records, null, 2))}</pre>
</body></html>
`;
}
