// The fused KIVI decode's scores and value sums straight from the packed codes (`kivi-codes.wat`):
// the tile's codes, scales and minimums (O(count·d/values-per-word + count·groups)) and the query or
// probability rows are copied into a kept arena, the loops (O(rows·count·d)) read codes, not
// dequantized rows. Where SIMD is off or unavailable, the KIVI source dequantizes each tile in
// JavaScript and runs the dense loops instead (kivi-source.ts).
import { keptModuleViews, type SimdArena, stageFloat32 } from '@kvkit/tensor-core';
import { type ArenaViews, arenaViews } from './arena-views.js';
import type { HostFloats } from './host-data.js';
import kiviCodesWasm from './kivi-codes.wat';

interface KiviCodeKernels {
  keyScores2(
    q0: number,
    q1: number,
    d: number,
    scale: number,
    min: number,
    codes: number,
    groupWords: number,
    bits: number,
    first: number,
    chunks: number,
    qs: number,
    out0: number,
    out1: number,
  ): void;
  valueAccumulate2(
    p0: number,
    p1: number,
    count: number,
    codes: number,
    rowWords: number,
    groupWords: number,
    scale: number,
    min: number,
    groups: number,
    groupSize: number,
    bits: number,
    w: number,
    acc0: number,
    acc1: number,
  ): void;
}

/** This module's own view maker: `keptModuleViews` keys its cache by the function. */
const viewsOf = (arena: SimdArena<KiviCodeKernels>): ArenaViews<KiviCodeKernels> => arenaViews(arena);
const codeArena = (values: number): ArenaViews<KiviCodeKernels> | null => keptModuleViews(kiviCodesWasm, values * 8, viewsOf);

/** Whether the code loops run here (WebAssembly SIMD on and available). */
export function kiviCodeLoopsAvailable(): boolean {
  return codeArena(1) !== null;
}

/**
 * Places in the arena, in float64 values from its start, each rounded up to 16 bytes: `f64(n)` for
 * n float64 values, `words(n)` for n 4-byte values (f32 or u32).
 */
class ArenaLayout {
  size = 0;
  f64(n: number): number {
    const at = this.size;
    this.size += n + (n & 1);
    return at;
  }
  words(n: number): number {
    return this.f64(2 * Math.ceil(n / 4));
  }
}

/**
 * Calls `pair(r0, r1, spare)` for the row pairs that have an active row; an odd last row is paired
 * with itself (`spare` true: the caller sends its twin's results to the spare row `rows`).
 */
function forEachRowPair(rows: number, active: Uint8Array, pair: (r0: number, r1: number, spare: boolean) => void): void {
  let r = 0;
  for (; r + 1 < rows; r += 2) if (active[r] | active[r + 1]) pair(r, r + 1, false);
  if (r < rows && active[r]) pair(r, r, true);
}

/** A KV head's quantized keys: groups of `groupSize` tokens, each channel's codes with a scale and a minimum. */
export interface QuantizedKeys {
  bits: number;
  d: number;
  groupSize: number;
  /** Group g's channel c: the `groupWords` words from `codes[codeStart + (g·d + c)·groupWords]`. */
  codes: Uint32Array;
  codeStart: number;
  groupWords: number;
  /** Group g's channel c: scale and minimum at `scaleStart + g·d + c` (f32, or f16 bit patterns). */
  scale: HostFloats;
  min: HostFloats;
  scaleStart: number;
}

/** Scores written before and after a row's tokens: a group's first and last four codes may overhang. */
const OVERHANG = 4;

/**
 * out[r·stride + t] = q_r · k_(a+t) for every active row r < rows and t < count, the keys given by
 * their codes (any number of whole or partial groups). Returns false (nothing written) where the
 * code loops do not run.
 */
export function codeKeyScores(q: Float64Array, rows: number, active: Uint8Array, keys: QuantizedKeys, a: number, count: number, out: Float64Array, stride: number): boolean {
  const { d, groupSize, groupWords } = keys;
  const g0 = Math.floor(a / groupSize);
  const groups = Math.ceil((a + count) / groupSize) - g0;
  const span = count + 2 * OVERHANG;
  const layout = new ArenaLayout();
  const qAt = layout.f64(rows * d);
  const scaleAt = layout.words(groups * d);
  const minAt = layout.words(groups * d);
  const codesAt = layout.words(groups * d * groupWords);
  const qsAt = layout.f64(2 * d);
  const outAt = layout.f64((rows + 1) * span);
  const memory = codeArena(layout.size);
  if (!memory) return false;
  const { arena, kernels, base, f64, u32 } = memory;
  f64.set(q.subarray(0, rows * d), qAt);
  const scaleFrom = keys.scaleStart + g0 * d;
  stageFloat32(arena, keys.scale, scaleFrom, groups * d, base + 8 * scaleAt);
  stageFloat32(arena, keys.min, scaleFrom, groups * d, base + 8 * minAt);
  const codeFrom = keys.codeStart + g0 * d * groupWords;
  u32.set(keys.codes.subarray(codeFrom, codeFrom + groups * d * groupWords), 2 * codesAt);
  const qRow = (r: number) => base + 8 * (qAt + r * d);
  for (let j = 0; j < groups; j++) {
    const start = (g0 + j) * groupSize; // the group's token 0
    const u0 = Math.max(a, start) - start;
    const u1 = Math.min(a + count, start + groupSize) - start;
    const first = u0 & ~3;
    const chunks = Math.ceil((u1 - first) / 4);
    // token `first` of the group lands at row position OVERHANG + (start + first − a)
    const outRow = (r: number) => base + 8 * (outAt + r * span + OVERHANG + start + first - a);
    const scale = base + 8 * scaleAt + 4 * j * d;
    const min = base + 8 * minAt + 4 * j * d;
    const codes = base + 8 * codesAt + 4 * j * d * groupWords;
    forEachRowPair(rows, active, (r0, r1, spare) =>
      kernels.keyScores2(qRow(r0), qRow(r1), d, scale, min, codes, groupWords, keys.bits, first, chunks, base + 8 * qsAt, outRow(r0), outRow(spare ? rows : r1)),
    );
  }
  for (let r = 0; r < rows; r++) {
    const from = outAt + r * span + OVERHANG;
    if (active[r]) out.set(f64.subarray(from, from + count), r * stride);
  }
  return true;
}

/** A KV head's quantized values: per token `rowWords` words of codes, channel groups with a scale and a minimum each. */
export interface QuantizedValues {
  bits: number;
  groups: number;
  /** Channels per group: a multiple of 4 (the loops take four channels of a word at a time). */
  groupSize: number;
  /** Token t's codes: the `rowWords` words from `codes[codeStart + t·rowWords]`, channel group g from word g·groupWords. */
  codes: Uint32Array;
  codeStart: number;
  rowWords: number;
  groupWords: number;
  /** Token t's group g: scale and minimum at `scaleStart + t·groups + g` (f32, or f16 bit patterns). */
  scale: HostFloats;
  min: HostFloats;
  scaleStart: number;
}

/**
 * acc[r·dv + c] += Σ_t p[r·stride + t] · v_(a+t)[c] for every active row r < rows and t < count,
 * the values given by their codes (dv = groups·groupSize). Returns false (nothing changed) where
 * the code loops do not run.
 */
export function codeValueAccumulate(p: Float64Array, stride: number, rows: number, active: Uint8Array, values: QuantizedValues, a: number, count: number, acc: Float64Array): boolean {
  const { groups, groupSize, rowWords } = values;
  const dv = groups * groupSize;
  const layout = new ArenaLayout();
  const pAt = layout.f64(rows * count);
  const codesAt = layout.words(count * rowWords);
  const scaleAt = layout.words(count * groups);
  const minAt = layout.words(count * groups);
  const wAt = layout.f64(2 * count);
  const accAt = layout.f64((rows + 1) * dv);
  const memory = codeArena(layout.size);
  if (!memory) return false;
  const { arena, kernels, base, f64, u32 } = memory;
  for (let r = 0; r < rows; r++) {
    if (active[r]) f64.set(p.subarray(r * stride, r * stride + count), pAt + r * count);
    else f64.fill(0, pAt + r * count, pAt + (r + 1) * count);
  }
  const codeFrom = values.codeStart + a * rowWords;
  u32.set(values.codes.subarray(codeFrom, codeFrom + count * rowWords), 2 * codesAt);
  const scaleFrom = values.scaleStart + a * groups;
  stageFloat32(arena, values.scale, scaleFrom, count * groups, base + 8 * scaleAt);
  stageFloat32(arena, values.min, scaleFrom, count * groups, base + 8 * minAt);
  f64.set(acc.subarray(0, rows * dv), accAt);
  const pRow = (r: number) => base + 8 * (pAt + r * count);
  const accRow = (r: number) => base + 8 * (accAt + r * dv);
  forEachRowPair(rows, active, (r0, r1, spare) =>
    kernels.valueAccumulate2(
      pRow(r0),
      pRow(r1),
      count,
      base + 8 * codesAt,
      rowWords,
      values.groupWords,
      base + 8 * scaleAt,
      base + 8 * minAt,
      groups,
      groupSize,
      values.bits,
      base + 8 * wAt,
      accRow(r0),
      accRow(spare ? rows : r1),
    ),
  );
  acc.set(f64.subarray(accAt, accAt + rows * dv), 0);
  return true;
}
