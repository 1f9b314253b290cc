import { registerKernel } from '../../kernel-registry.js';
import type { CpuBackend } from '../cpu-backend.js';
import { outputBuffer, readIndices, readNumbers, wrapOutput } from '../host-data.js';

/** cos/sin per (token, frequency) for some positions and frequencies (f32 values, as HF rounds them). */
interface AngleTable {
  positions: Float64Array;
  freq: Float64Array;
  cos: Float32Array;
  sin: Float32Array;
}

/**
 * The last table computed, while it is small: a model's layers all rotate q and k at the same
 * positions, and the trigonometry was most of rope's time (≈ 10 of its 15 ms in a 512-token
 * prefill of kvkit-tiny). Reused only when the positions and frequencies equal its own, value
 * for value, so the values are those computed afresh.
 */
let lastTable: AngleTable | undefined;
const MAX_KEPT_ANGLES = 2 ** 18;

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** cos/sin per (token t, frequency i) at index t·half + i, with the angle rounded to f32 as HF computes it. */
function angleTable(pos: ArrayLike<number>, freq: ArrayLike<number>, n: number): AngleTable {
  if (lastTable && sameValues(lastTable.positions, pos) && sameValues(lastTable.freq, freq)) return lastTable;
  const half = freq.length;
  const table: AngleTable = { positions: Float64Array.from(pos), freq: Float64Array.from(freq), cos: new Float32Array(n * half), sin: new Float32Array(n * half) };
  for (let t = 0; t < n; t++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(pos[t] * freq[i]);
      table.cos[t * half + i] = Math.cos(angle);
      table.sin[t * half + i] = Math.sin(angle);
    }
  }
  lastTable = n * half <= MAX_KEPT_ANGLES ? table : undefined;
  return table;
}

export function registerRopeKernel(): void {
  registerKernel<'rope', CpuBackend>('rope', 'cpu', (backend, [x, positions, invFreq], { layout }) => {
    const values = readNumbers(x);
    const pos = readIndices(positions);
    const freq = readNumbers(invFreq);
    const [n, d] = x.shape.slice(-2);
    const half = freq.length;
    const { cos, sin } = angleTable(pos.subarray(0, n), freq, n);
    const out = outputBuffer(x.dtype, x.size);
    out.set(values);
    const rows = n === 0 ? 0 : x.size / d;
    for (let r = 0; r < rows; r++) {
      const t = r % n;
      const base = r * d;
      for (let i = 0; i < half; i++) {
        const lo = layout === 'half' ? base + i : base + 2 * i;
        const hi = layout === 'half' ? base + i + half : base + 2 * i + 1;
        const c = cos[t * half + i];
        const s = sin[t * half + i];
        const x0 = values[lo];
        const x1 = values[hi];
        out[lo] = x0 * c - x1 * s;
        out[hi] = x1 * c + x0 * s;
      }
    }
    return wrapOutput(backend, x.shape, x.dtype, out);
  });
}
