import type { DenseSimdKernels, SimdArena } from './simd-arena.js';
import { balancedRanges } from './work-split.js';

/**
 * One call of the row-block kernel `rowBlocksProducts` but its range of blocks: x_i[k] at
 * xa + i·xs + k·xk bytes, depth d, B's panel (d rows, ld wide) at yt, C's row r at c + r·cs, and
 * with `symmetric` each block from column firstRow + 4b on, with `lower` up to column
 * firstRow + 4b + 4 (else all columns); with `panelDepth`, `rowBlocksPanels` on a pass of such panels.
 */
export interface RowBlocksJob {
  xa: number;
  xs: number;
  xk: number;
  d: number;
  yt: number;
  ld: number;
  c: number;
  cs: number;
  firstRow: number;
  symmetric: boolean;
  /** The lower triangle instead (block b up to column firstRow + 4b + 4, its diagonal block whole); not with `symmetric`. */
  lower?: boolean;
  /**
   * C is a packed upper triangle of order ld instead (float64): row i's entry j ≥ i at
   * c + 8·(i·ld − i(i+1)/2 + j), block b from column firstRow + 4b + 3 on (the entries of its rows
   * left of that are the caller's); `cs` unused. Not with `symmetric` or `lower`.
   */
  packed?: boolean;
  add: boolean;
  /** With a depth below d: B's d rows are a pass of panels this deep, taken one after another (`rowBlocksPanels`). */
  panelDepth?: number;
  /** Operands and outputs are float32 (`rowBlocksProductsF32`; no panel passes). */
  float32?: boolean;
}

/**
 * The kernel over row blocks b0 ≤ b < b1: split among `threads`' worker threads when given (a
 * range of whole blocks each, balanced by their columns, so every entry is still summed by one
 * thread: the same values), else in one call here.
 */
export function runRowBlocks(kernels: DenseSimdKernels, threads: SimdArena | null, job: RowBlocksJob, b0: number, b1: number): void {
  if (b1 <= b0) return;
  const { xa, xs, xk, d, yt, ld, c, cs, firstRow, symmetric, lower, packed, add, panelDepth, float32 } = job;
  const panels = !float32 && panelDepth !== undefined && panelDepth < d;
  const triangle = symmetric ? 1 : lower ? 2 : packed ? 3 : 0;
  const args = (from: number, to: number) => [xa, xs, xk, d, yt, ld, c, cs, from, to, firstRow, triangle, add ? 1 : 0, ...(panels ? [panelDepth] : [])];
  const kernel = float32 ? 'rowBlocksProductsF32' : panels ? 'rowBlocksPanels' : 'rowBlocksProducts';
  if (!threads || threads.threadCount === 1) {
    (kernels as unknown as Record<string, (...values: number[]) => void>)[kernel](...args(b0, b1));
    return;
  }
  // Block b covers ld − firstRow − 4b columns of an upper triangle (3 fewer packed), firstRow + 4b + 4 of a lower one.
  const columns = symmetric || packed
    ? (i: number) => Math.max(ld - firstRow - 4 * (b0 + i) - (packed ? 3 : 0), 1)
    : lower
      ? (i: number) => Math.min(firstRow + 4 * (b0 + i) + 4, ld)
      : undefined;
  const ranges = balancedRanges(b1 - b0, threads.threadCount, columns);
  threads.run(kernel, ranges.map(([from, to]) => (to > from ? args(b0 + from, b0 + to) : null)));
}
