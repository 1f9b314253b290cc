// The general tile loop's two O(rows·count·d) loops over a tile of key/value rows (f32, or f16 bit
// patterns), for what the fused row kernel (row-attention.ts) leaves to it: soft-capped scores, head
// dims that are not a multiple of 4, the statistics pass, SIMD off. The query rows' scores and the
// probability-weighted sum of values, in WebAssembly
// SIMD (`dense-rows.wat`, operands copied into a kept arena for each call, f16 rows converted there
// by tensor-core's `stageFloat32`: copies are O(rows·count + count·d), the loops O(rows·count·d))
// or, where SIMD is off or unavailable, in JavaScript (`dense-math.ts`, f16 rows decoded into
// scratch first). Both sum in the same order, so they give the same float64 values.
import { f16ArrayToF32, keptModuleViews, type SimdArena, stageFloat32 } from '@kvkit/tensor-core';
import { accumulate1, accumulate2, accumulate4, scores1, scores2, scores4, transpose4 } from './dense-math.js';
import denseRowsWasm from './dense-rows.wat';
import type { HostFloats } from './host-data.js';

interface DenseRowKernels {
  scores4(q: number, d: number, k: number, count: number, out: number, stride: number): void;
  scores2(q: number, d: number, k: number, count: number, out: number, stride: number): void;
  scores1(q: number, d: number, k: number, count: number, out: number): void;
  accumulate4(p: number, pStride: number, v: number, dv: number, count: number, acc: number, accStride: number): void;
  accumulate2(p: number, pStride: number, v: number, dv: number, count: number, acc: number, accStride: number): void;
  accumulate1(p: number, v: number, dv: number, count: number, acc: number): void;
}

/**
 * Visits the active rows: whole blocks of four (when any of the four is active) through `four`,
 * then a pair through `two` (only when both are active), then single rows through `one`.
 */
export function forEachRowBlock(rows: number, active: Uint8Array, four: (r: number) => void, two: (r: number) => void, one: (r: number) => void): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    if (active[r] | active[r + 1] | active[r + 2] | active[r + 3]) four(r);
  }
  if (r + 1 < rows) {
    if (active[r] && active[r + 1]) two(r);
    else if (active[r]) one(r);
    else if (active[r + 1]) one(r + 1);
    r += 2;
  }
  if (r < rows && active[r]) one(r);
}

/** The kept arena's kernels and its one float64 array. */
interface ArenaViews {
  arena: SimdArena<DenseRowKernels>;
  f64: Float64Array;
}

function viewsOf(arena: SimdArena<DenseRowKernels>): ArenaViews {
  return { arena, f64: arena.arrays[0] };
}

/** The kept arena's views with at least `values` float64 values, or null (SIMD off or unavailable). */
const arenaViews = (values: number): ArenaViews | null => keptModuleViews(denseRowsWasm, values * 8, viewsOf);

/** f16 rows decoded for the JavaScript loops (grown as needed). */
let decoded = new Float32Array(0);

/** `length` values of `rows` from `start` as f32 for the JavaScript loops: in place, or f16 decoded into scratch. */
function f32Rows(rows: HostFloats, start: number, length: number): [Float32Array, number] {
  if (rows instanceof Float32Array) return [rows, start];
  if (decoded.length < length) decoded = new Float32Array(length);
  f16ArrayToF32(rows.subarray(start, start + length), decoded);
  return [decoded, 0];
}

/** Float64 values holding `floats` f32 values, rounded up to an even count (16-byte boundaries). */
const f32Values = (floats: number) => 2 * Math.ceil(floats / 4);
const evenValues = (values: number) => values + (values & 1);

/**
 * out[r·stride + t] = q_r · k_t for every active row r < rows (q row-major, d wide) and t < count,
 * keys k_t at keyStart + t·d of `keys`. Blocks of four rows also score their inactive rows.
 */
export function rowScores(q: Float64Array, rows: number, d: number, active: Uint8Array, keys: HostFloats, keyStart: number, count: number, out: Float64Array, stride: number): void {
  const qValues = evenValues(rows * d);
  const kValues = f32Values(count * d);
  const memory = arenaViews(qValues + kValues + rows * count);
  if (!memory) {
    const [k, kOff] = f32Rows(keys, keyStart, count * d);
    forEachRowBlock(
      rows,
      active,
      (r) => scores4(q, r, d, k, kOff, count, out, stride),
      (r) => scores2(q, r, d, k, kOff, count, out, stride),
      (r) => scores1(q, r, d, k, kOff, count, out, stride),
    );
    return;
  }
  const { arena, f64 } = memory;
  const base = f64.byteOffset;
  const kAt = qValues; // in float64 values from the arena's start; the scores follow the keys
  const sAt = qValues + kValues;
  f64.set(q.subarray(0, rows * d), 0);
  stageFloat32(arena, keys, keyStart, count * d, base + 8 * kAt);
  const { kernels } = arena;
  const rowBytes = 8 * count;
  const qRow = (r: number) => base + 8 * r * d;
  const sRow = (r: number) => base + 8 * sAt + r * rowBytes;
  forEachRowBlock(
    rows,
    active,
    (r) => kernels.scores4(qRow(r), d, base + 8 * kAt, count, sRow(r), rowBytes),
    (r) => kernels.scores2(qRow(r), d, base + 8 * kAt, count, sRow(r), rowBytes),
    (r) => kernels.scores1(qRow(r), d, base + 8 * kAt, count, sRow(r)),
  );
  for (let r = 0; r < rows; r++) {
    if (active[r]) out.set(f64.subarray(sAt + r * count, sAt + (r + 1) * count), r * stride);
  }
}

/** Probabilities of four rows, key-major, for the JavaScript `accumulate4` (grown as needed). */
let transposed = new Float64Array(0);

/**
 * acc[r·dv + c] += Σ_t p[r·stride + t] · v_t[c] for every active row r < rows and t < count, values
 * v_t at valueStart + t·dv of `values`. Blocks of four rows treat their inactive rows' probabilities as zeros.
 */
export function rowAccumulate(p: Float64Array, stride: number, rows: number, active: Uint8Array, values: HostFloats, valueStart: number, dv: number, count: number, acc: Float64Array): void {
  const pValues = evenValues(rows * count);
  const vValues = f32Values(count * dv);
  const memory = arenaViews(pValues + vValues + evenValues(rows * dv));
  if (!memory) {
    const [v, vOff] = f32Rows(values, valueStart, count * dv);
    if (transposed.length < 4 * count) transposed = new Float64Array(4 * count);
    forEachRowBlock(
      rows,
      active,
      (r) => {
        transpose4(p, r, stride, count, active, transposed);
        accumulate4(transposed, v, vOff, dv, count, acc, r);
      },
      (r) => accumulate2(p, stride, v, vOff, dv, count, acc, r),
      (r) => accumulate1(p, r * stride, v, vOff, dv, count, acc, r),
    );
    return;
  }
  const { arena, f64 } = memory;
  const base = f64.byteOffset;
  const vAt = pValues; // in float64 values from the arena's start; the accumulators follow the values
  const aAt = pValues + vValues;
  for (let r = 0; r < rows; r++) {
    if (active[r]) f64.set(p.subarray(r * stride, r * stride + count), r * count);
    else f64.fill(0, r * count, (r + 1) * count);
  }
  stageFloat32(arena, values, valueStart, count * dv, base + 8 * vAt);
  f64.set(acc.subarray(0, rows * dv), aAt);
  const { kernels } = arena;
  const pRow = (r: number) => base + 8 * r * count;
  const aRow = (r: number) => base + 8 * (aAt + r * dv);
  const vBytes = base + 8 * vAt;
  forEachRowBlock(
    rows,
    active,
    (r) => kernels.accumulate4(pRow(r), 8 * count, vBytes, dv, count, aRow(r), 8 * dv),
    (r) => kernels.accumulate2(pRow(r), 8 * count, vBytes, dv, count, aRow(r), 8 * dv),
    (r) => kernels.accumulate1(pRow(r), vBytes, dv, count, aRow(r)),
  );
  acc.set(f64.subarray(aAt, aAt + rows * dv), 0);
}
