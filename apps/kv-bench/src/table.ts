import { formatBytes } from '@kvkit/tensor-core';
import type { BenchRecord } from './record.js';

const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');


/** The stdout table: one row per method. */
export function formatTable(records: readonly BenchRecord[]): string {
  const header = ['method', 'ppl', 'Δppl', 'bpb', 'KL', 'recall', 'passkey', 'KV bytes', 'vs f16', 'decode tok/s'];
  const dense = records.find((r) => r.method === 'dense');
  const rows = records.map((r) => [
    r.label,
    fmt(r.ppl, 2),
    dense ? `${r.ppl >= dense.ppl ? '+' : ''}${fmt((100 * (r.ppl - dense.ppl)) / dense.ppl, 1)}%` : '',
    fmt(r.bpb, 3),
    r.kl < 1e-4 ? r.kl.toExponential(1) : fmt(r.kl, 4),
    fmt(r.recall, 2),
    `${fmt(100 * r.passkey, 0)}%`,
    formatBytes(r.kvBytes),
    `${fmt(r.compression, 2)}×`,
    fmt(r.tokensPerSec, 0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
