import type { ExtraModules } from '../../simd/simd-arena.js';
import { keptModuleArena } from '../../simd/scratch-arena.js';
import type { Tensor } from '../../tensor.js';
import { type NumberArray, readFloat32Into } from '../host-data.js';

/** Values per chunk of rows (every per-row area together: 4 MiB of f32). */
const CHUNK_VALUES = 2 ** 20;

/** Rows [start, start + count) of the call's n, and the chunk's areas (`RecurrentRows.fixed` first, then one per row width). */
export interface RowChunk {
  start: number;
  count: number;
  areas: Float32Array[];
  /** Copies the chunk's rows of `from` (a row-major [n, width] operand) into per-row area `index`. */
  take(from: NumberArray, index: number): void;
}

/** How a recurrent SIMD kernel (Mamba-2's scan, the gated delta rule) lays out its arena. */
export interface RecurrentRows {
  /** The module whose kept arena holds the areas. */
  module: ExtraModules;
  /** Lengths of the areas every chunk shares: the f32 state first, then any scratch. */
  fixed: number[];
  /** Each per-row area's width in values; the last is the output's. */
  rowWidths: number[];
  n: number;
}

/**
 * Runs a recurrent SIMD kernel over n rows, a chunk at a time through its module's kept arena: the
 * f32 state is read in once, each chunk's operands are staged and the kernel run by `run`, the
 * chunk's output rows are copied into `out`, and the state is copied back out and returned. Null
 * (out untouched) where SIMD is off or unavailable.
 */
export function runRecurrentRows<Kernels extends object>(layout: RecurrentRows, state: Tensor, out: NumberArray, run: (kernels: Kernels, chunk: RowChunk) => void): Float32Array | null {
  const { module, fixed, rowWidths, n } = layout;
  const rows = Math.max(1, Math.min(n, Math.floor(CHUNK_VALUES / rowWidths.reduce((a, b) => a + b, 0))));
  const lengths = [...fixed, ...rowWidths.map((width) => rows * width)];
  const arena = keptModuleArena<Kernels>(module, lengths.reduce((total, length) => total + 4 * quads(length), 0));
  if (!arena) return null;
  const { buffer, byteOffset } = arena.arrays[0];
  let at = byteOffset;
  // Each area starts on a 16-byte boundary.
  const areas = lengths.map((length) => {
    const view = new Float32Array(buffer, at, length);
    at += 4 * quads(length);
    return view;
  });
  readFloat32Into(state, areas[0]);
  const perRow = areas.slice(fixed.length);
  const outWidth = rowWidths[rowWidths.length - 1];
  for (let start = 0; start < n; start += rows) {
    const count = Math.min(rows, n - start);
    const take = (from: NumberArray, index: number) => perRow[index].set(from.subarray(start * rowWidths[index], (start + count) * rowWidths[index]));
    run(arena.kernels, { start, count, areas, take });
    out.set(perRow[perRow.length - 1].subarray(0, count * outWidth), start * outWidth);
  }
  return areas[0].slice();
}

/** A count rounded up to a multiple of 4. */
const quads = (count: number): number => Math.ceil(count / 4) * 4;
