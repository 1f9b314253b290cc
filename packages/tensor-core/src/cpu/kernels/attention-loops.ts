// The two O(n·d) loops of the CPU attention kernel — a query row's scores against a range of keys,
// and the probability-weighted sum of value rows — in WebAssembly SIMD for f32 operands
// (`attention-f32.wat`, operands decoded into a kept arena once per call: f16 ones by the SIMD
// `stageF16`) or in JavaScript. Both sum in the same order, so they give the same float64 values.
import { keptModuleArena } from '../../simd/scratch-arena.js';
import type { Tensor } from '../../tensor.js';
import { stageF16 } from '../../simd/float32-staging.js';
import type { SimdArena } from '../../simd/simd-arena.js';
import { readFloat32Into, readNumbers, readRawInto } from '../host-data.js';
import attentionF32Wasm from './attention-f32.wat';
import type { FloatArray } from './gemm.js';

interface AttentionF32Kernels {
  rowDots(q: number, k: number, d: number, from: number, to: number, out: number): void;
  weightedRows(v: number, dv: number, keys: number, probs: number, count: number, acc: number): void;
}

/** The operands' shapes: query rows of d channels, per KV head n keys of d and n values of dv channels. */
export interface AttentionShape {
  queryRows: number;
  kvHeads: number;
  n: number;
  d: number;
  dv: number;
}

/**
 * `dots(row, kvHead, from, to)` leaves q_row·k_j (even channels and odd channels summed apart, then
 * added) in `scores[j]` for from ≤ j < to; `weighted(kvHead, count)` adds probs[t]·v_{keys[t]} to
 * `acc` for t < count in order, skipping zero probabilities. `scores` doubles as the probabilities.
 */
export interface AttentionLoops {
  readonly scores: Float64Array;
  readonly keys: Int32Array;
  readonly acc: Float64Array;
  dots(row: number, kvHead: number, from: number, to: number): void;
  weighted(kvHead: number, count: number): void;
}

/** Above this many bytes of operands the JavaScript loops run (no arena that large is kept). */
const MAX_ARENA_BYTES = 256 * 2 ** 20;

/** Storage types the SIMD loops read as f32 (decoded straight into the arena). */
const F32_READABLE = new Set(['f32', 'f16', 'bf16']);

export function attentionLoops(q: Tensor, k: Tensor, v: Tensor, shape: AttentionShape): AttentionLoops {
  if ([q, k, v].every((t) => F32_READABLE.has(t.dtype))) {
    const simd = simdLoops(q, k, v, shape);
    if (simd) return simd;
  }
  return scriptLoops(readNumbers(q) as FloatArray, readNumbers(k) as FloatArray, readNumbers(v) as FloatArray, shape);
}

function scriptLoops(q: FloatArray, k: FloatArray, v: FloatArray, { n, d, dv }: AttentionShape): AttentionLoops {
  const scores = new Float64Array(n);
  const keys = new Int32Array(n);
  const acc = new Float64Array(dv);
  return {
    scores,
    keys,
    acc,
    dots(row, kvHead, from, to) {
      const qBase = row * d;
      for (let j = from; j < to; j++) {
        const kj = (kvHead * n + j) * d;
        let s0 = 0;
        let s1 = 0;
        let c = 0;
        for (; c + 2 <= d; c += 2) {
          s0 += q[qBase + c] * k[kj + c];
          s1 += q[qBase + c + 1] * k[kj + c + 1];
        }
        if (c < d) s0 += q[qBase + c] * k[kj + c];
        scores[j] = s0 + s1;
      }
    },
    weighted(kvHead, count) {
      const vBase = kvHead * n * dv;
      for (let t = 0; t < count; t++) {
        const p = scores[t];
        if (p === 0) continue;
        const vj = vBase + keys[t] * dv;
        for (let c = 0; c < dv; c++) acc[c] += p * v[vj + c];
      }
    },
  };
}

/**
 * The loops on a kept arena holding q, k and v as f32 (decoded from storage straight into it), or
 * null (SIMD off or unavailable, operands too large).
 */
function simdLoops(q: Tensor, k: Tensor, v: Tensor, { queryRows, kvHeads, n, d, dv }: AttentionShape): AttentionLoops | null {
  // Byte layout: q, k, v (f32), scores (f64, n), acc (f64, dv), keys (i32, n); each 16-byte aligned.
  const align = (bytes: number) => Math.ceil(bytes / 16) * 16;
  const sizes = [queryRows * d * 4, kvHeads * n * d * 4, kvHeads * n * dv * 4, n * 8, dv * 8, n * 4].map(align);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total > MAX_ARENA_BYTES) return null;
  const arena = keptModuleArena<AttentionF32Kernels>(attentionF32Wasm, total);
  if (!arena) return null;
  const { kernels } = arena;
  const { buffer, byteOffset: base } = arena.arrays[0];
  const starts = sizes.map((_, i) => base + sizes.slice(0, i).reduce((a, b) => a + b, 0));
  readIntoArena(q, arena, starts[0]);
  readIntoArena(k, arena, starts[1]);
  readIntoArena(v, arena, starts[2]);
  const scores = new Float64Array(buffer, starts[3], n);
  const acc = new Float64Array(buffer, starts[4], dv);
  const keys = new Int32Array(buffer, starts[5], n);
  return {
    scores,
    keys,
    acc,
    dots: (row, kvHead, from, to) => kernels.rowDots(starts[0] + row * d * 4, starts[1] + kvHead * n * d * 4, d, from, to, starts[3]),
    weighted: (kvHead, count) => kernels.weightedRows(starts[2] + kvHead * n * dv * 4, dv, starts[5], starts[3], count, starts[4]),
  };
}

/** `t`'s elements as f32 at byte `at` of the arena: f16 ones gathered raw, then converted in SIMD (`stageF16`). */
function readIntoArena(t: Tensor, arena: SimdArena<AttentionF32Kernels>, at: number): void {
  if (t.dtype === 'f16') stageF16(arena, t.size, at, (staging, index) => readRawInto(t, staging.subarray(index, index + t.size)));
  else readFloat32Into(t, new Float32Array(arena.arrays[0].buffer, at, t.size));
}
