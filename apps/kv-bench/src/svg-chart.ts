/** Minimal SVG charts for the self-contained HTML report (no scripts, no external assets). */

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
export const color = (i: number): string => PALETTE[i % PALETTE.length];

function ticks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const step = 10 ** Math.floor(Math.log10((max - min) / count));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (max - min) / s <= count) ?? step * 10;
  const out: number[] = [];
  for (let v = Math.ceil(min / nice) * nice; v <= max + 1e-12; v += nice) out.push(Number(v.toPrecision(6)));
  return out;
}

export interface ScatterPoint {
  x: number;
  y: number;
  label: string;
}

/** A labelled scatter plot (one colour per point) with axes and a legend. */
export function scatterChart(points: readonly ScatterPoint[], o: { title: string; xLabel: string; yLabel: string; width?: number; height?: number }): string {
  const width = o.width ?? 640;
  const height = o.height ?? 380;
  const m = { left: 64, right: 200, top: 36, bottom: 48 };
  const finite = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xs = finite.map((p) => p.x);
  const ys = finite.map((p) => p.y);
  const pad = (lo: number, hi: number) => (hi > lo ? [lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)] : [lo - 1, hi + 1]);
  const [x0, x1] = pad(Math.min(...xs), Math.max(...xs));
  const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (width - m.left - m.right);
  const py = (y: number) => height - m.bottom - ((y - y0) / (y1 - y0)) * (height - m.top - m.bottom);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`];
  parts.push(`<text x="${width / 2 - m.right / 2}" y="18" text-anchor="middle" font-size="14">${escape(o.title)}</text>`);
  for (const t of ticks(x0, x1)) parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${m.top}" y2="${height - m.bottom}" stroke="#eee"/><text x="${px(t)}" y="${height - m.bottom + 14}" text-anchor="middle">${t}</text>`);
  for (const t of ticks(y0, y1)) parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/><text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${width - m.left - m.right}" height="${height - m.top - m.bottom}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 10}" text-anchor="middle">${escape(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(o.yLabel)}</text>`);
  finite.forEach((p, i) => {
    parts.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="5" fill="${color(i)}"><title>${escape(`${p.label}: ${p.x.toPrecision(4)}, ${p.y.toPrecision(4)}`)}</title></circle>`);
    parts.push(`<circle cx="${width - m.right + 14}" cy="${m.top + 8 + i * 16}" r="5" fill="${color(i)}"/><text x="${width - m.right + 24}" y="${m.top + 12 + i * 16}">${escape(p.label.slice(0, 28))}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** Grouped bars: one group per category (e.g. layer), one bar per series (e.g. method). */
export function groupedBarChart(categories: readonly string[], series: readonly { label: string; values: readonly number[] }[], o: { title: string; yLabel: string; width?: number; height?: number }): string {
  const width = o.width ?? 640;
  const height = o.height ?? 340;
  const m = { left: 72, right: 200, top: 36, bottom: 40 };
  const yMax = Math.max(1, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const groupW = plotW / Math.max(1, categories.length);
  const barW = (groupW * 0.8) / Math.max(1, series.length);
  const py = (y: number) => height - m.bottom - (y / yMax) * plotH;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`];
  parts.push(`<text x="${width / 2 - m.right / 2}" y="18" text-anchor="middle" font-size="14">${escape(o.title)}</text>`);
  for (const t of ticks(0, yMax)) parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${py(t)}" y2="${py(t)}" stroke="#eee"/><text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  categories.forEach((c, ci) => {
    parts.push(`<text x="${m.left + ci * groupW + groupW / 2}" y="${height - m.bottom + 14}" text-anchor="middle">${escape(c)}</text>`);
    series.forEach((s, si) => {
      const v = s.values[ci] ?? 0;
      const x = m.left + ci * groupW + groupW * 0.1 + si * barW;
      parts.push(`<rect x="${x}" y="${py(v)}" width="${Math.max(1, barW - 1)}" height="${Math.max(0, height - m.bottom - py(v))}" fill="${color(si)}"><title>${escape(`${s.label} ${c}: ${v}`)}</title></rect>`);
    });
  });
  series.forEach((s, si) => parts.push(`<rect x="${width - m.right + 10}" y="${m.top + si * 16}" width="10" height="10" fill="${color(si)}"/><text x="${width - m.right + 24}" y="${m.top + 9 + si * 16}">${escape(s.label.slice(0, 28))}</text>`));
  parts.push(`<text transform="translate(16 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escape(o.yLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

export { escape as escapeHtml };
