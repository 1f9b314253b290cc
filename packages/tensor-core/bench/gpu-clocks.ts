/**
 * GPU clock samples written by `nvidia-smi --query-gpu=timestamp,pstate,clocks.sm,clocks.mem,... --format=csv -lms 100`
 * (tooling/gpu/webgpu-check.sh starts it next to the bench), read back to say which clocks the GPU
 * ran at during each timed window. A bandwidth number measured at idle memory clocks says nothing
 * about the kernel.
 */
import { existsSync, readFileSync } from 'node:fs';

export interface ClockSample {
  /** Epoch milliseconds (nvidia-smi prints local time; the bench runs on the same machine). */
  t: number;
  pstate: string;
  smMHz: number;
  memMHz: number;
  powerW: number;
  utilization: number;
}

export interface ClockSummary {
  samples: number;
  memMHz: [number, number];
  smMHz: [number, number];
  pstates: string;
  maxPowerW: number;
}

/** nvidia-smi's "2026/11/27 03:10:11.123" in local time, as epoch ms (NaN when malformed). */
function parseTimestamp(text: string): number {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/.exec(text.trim());
  if (!m) return Number.NaN;
  const ms = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms).getTime();
}

/** The samples of a CSV file (with or without units); [] when the file is missing or empty. */
export function readClockSamples(file: string | undefined): ClockSample[] {
  if (!file || !existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return [];
  const header = lines[0].split(',').map((h) => h.trim().toLowerCase());
  const column = (...names: string[]) => header.findIndex((h) => names.some((n) => h.startsWith(n)));
  const at = {
    t: column('timestamp'),
    pstate: column('pstate'),
    sm: column('clocks.sm', 'clocks.current.sm'),
    mem: column('clocks.mem', 'clocks.current.memory'),
    power: column('power.draw'),
    util: column('utilization.gpu'),
  };
  const samples: ClockSample[] = [];
  for (const line of lines.slice(1)) {
    const cells = line.split(',').map((c) => c.trim());
    const number = (i: number) => (i >= 0 ? Number.parseFloat(cells[i]) : Number.NaN);
    const t = parseTimestamp(cells[at.t] ?? '');
    if (Number.isNaN(t)) continue; // a partly written last line
    samples.push({ t, pstate: cells[at.pstate] ?? '?', smMHz: number(at.sm), memMHz: number(at.mem), powerW: number(at.power), utilization: number(at.util) });
  }
  return samples;
}

/**
 * Clock range over the samples taken in [start, end] (epoch ms). A window shorter than the sampling
 * period gets the sample nearest to it (within 150 ms); undefined when there is none.
 */
export function clocksDuring(samples: readonly ClockSample[], start: number, end: number): ClockSummary | undefined {
  let inside = samples.filter((s) => s.t >= start && s.t <= end);
  if (inside.length === 0) {
    const distance = (s: ClockSample) => Math.max(start - s.t, s.t - end);
    const nearest = samples.reduce<ClockSample | undefined>((best, s) => (!best || distance(s) < distance(best) ? s : best), undefined);
    if (!nearest || distance(nearest) > 150) return undefined;
    inside = [nearest];
  }
  const range = (values: number[]): [number, number] => [Math.min(...values), Math.max(...values)];
  return {
    samples: inside.length,
    memMHz: range(inside.map((s) => s.memMHz)),
    smMHz: range(inside.map((s) => s.smMHz)),
    pstates: [...new Set(inside.map((s) => s.pstate))].join('/'),
    maxPowerW: Math.max(...inside.map((s) => s.powerW)),
  };
}

/** "2619 MHz" or "405–2619 MHz". */
export function formatRange([low, high]: [number, number]): string {
  return low === high ? `${low}` : `${low}–${high}`;
}
