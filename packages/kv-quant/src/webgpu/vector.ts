import { registerKernel, wordsPerRow } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import type {} from '../kernels/vector.js';
import { assertFloatInput, launchRows, rowOperand, taskEntry } from './rows.js';
import { SOFT_DOUBLE_WGSL } from './soft-double.js';
import { SOFT_DOUBLE_MULTIPLY_WGSL } from './soft-double-multiply.js';

/**
 * The WGSL implementations of kvQuantizeVector / kvDequantizeVector, bit-exact with the CPU kernel
 * (kernels/vector.ts, numeric/kmeans.ts nearestCentroid). The CPU's code is the first centroid k
 * (in index order) whose float64 distance s_k = Σ_j (x_j − c_kj)², each −, · and + rounded to 53
 * bits, is strictly below every earlier one (NaN distances never win; all NaN → 0).
 *
 * Here the K distances are first computed in f32. When every value of the group and codebook is
 * ±0 or of magnitude 2^−100 … 2^41, no difference is subnormal and nothing overflows, so each f32
 * distance is within (c + 2)·2^−24 relative (−, ·, + correctly rounded in WGSL; a fused
 * multiply-add or another summation order only lowers that) plus 2c·2^−126 absolute (squares
 * and partial sums flushed or rounded as subnormals) of the exact distance, and the CPU's float64 one far closer.
 * The margin used, (c + 2)·2^−21 relative and 2^−99 absolute on each side, covers both errors with
 * room for the rounding of the test itself: a centroid whose f32 distance exceeds the f32 minimum
 * by more than that is provably not the CPU's choice. The centroids left (usually the minimum
 * alone) — or all K when a value is outside that range (±∞, NaN, subnormal, huge) — are compared
 * again in the CPU's exact float64 arithmetic (soft-double.ts), in index order with its strict
 * test. Dequantizing copies the centroid's f32 bits.
 */

const SIZE_UNIFORMS = ['rows', 'n', 'groups', 'channels', 'bits', 'row_words'].map((name) => ({ name, type: 'u32' as const }));

const QUANTIZE_SOURCE = `${SOFT_DOUBLE_WGSL}
${SOFT_DOUBLE_MULTIPLY_WGSL}
// ±0, or a magnitude in [2^−100, 2^41) (biased exponent 27 … 167): the f32 distances' error bound holds.
fn tame(b: u32) -> bool {
  let ex = (b >> 23u) & 0xffu;
  return (b & 0x7fffffffu) == 0u || (ex >= 27u && ex <= 167u);
}

// The f32 distance from token row r's group (columns col …) to codebook row book.
fn distance_f32(r: u32, col: u32, book: u32) -> f32 {
  var s = 0.0;
  for (var j = 0u; j < u_channels(); j++) {
    let d = bitcast<f32>(x_f32_bits(r, col + j)) - bitcast<f32>(books_f32_bits(book, j));
    s = s + d * d;
  }
  return s;
}

// The CPU's float64 distance, exactly.
fn distance_exact(r: u32, col: u32, book: u32) -> KvqF64 {
  var s = kvq_special(KVQ_ZERO, 0u);
  for (var j = 0u; j < u_channels(); j++) {
    let d = kvq_add(kvq_from_bits(x_f32_bits(r, col + j), 23u, 8u), kvq_negate(kvq_from_bits(books_f32_bits(book, j), 23u, 8u)));
    s = kvq_add(s, kvq_mul(d, d));
  }
  return s;
}

// The code of group g of token row r (r = head · n + t).
fn nearest(r: u32, g: u32) -> u32 {
  let k = 1u << u_bits();
  let c = u_channels();
  let col = g * c;
  let first = ((r / u_n()) * u_groups() + g) * k; // the codebook's first row in books
  var exact_all = false;
  for (var j = 0u; j < c; j++) { exact_all = exact_all || !tame(x_f32_bits(r, col + j)); }
  var best = 0u;
  var best_s = 0.0;
  for (var i = 0u; i < k; i++) {
    for (var j = 0u; j < c; j++) { exact_all = exact_all || !tame(books_f32_bits(first + i, j)); }
    let s = distance_f32(r, col, first + i);
    if (i == 0u || s < best_s) {
      best = i;
      best_s = s;
    }
  }
  let margin = f32(c + 2u) * (1.0 / 2097152.0); // (c + 2) · 2^−21
  let floor_s = bitcast<f32>(0x0e000000u); // 2^−99
  let ceiling = best_s * (1.0 + margin) + floor_s;
  // Candidates: every centroid whose f32 distance is not provably above the CPU's minimum.
  var candidates = 0u;
  if (!exact_all) {
    for (var i = 0u; i < k; i++) {
      if (i != best && distance_f32(r, col, first + i) * (1.0 - margin) - floor_s <= ceiling) { candidates++; }
    }
    if (candidates == 0u) { return best; }
  }
  // The CPU's scan over the candidates (all K when a value is out of range): strict <, from +∞.
  var code = 0u;
  var code_s = kvq_special(KVQ_INF, 0u);
  for (var i = 0u; i < k; i++) {
    if (!exact_all && i != best && distance_f32(r, col, first + i) * (1.0 - margin) - floor_s > ceiling) { continue; }
    let s = distance_exact(r, col, first + i);
    if (kvq_less(s, code_s)) {
      code = i;
      code_s = s;
    }
  }
  return code;
}

// One thread per output word: the codes of up to floor(32 / bits) consecutive groups.
${taskEntry(`
  if (task >= u_rows() * u_row_words()) { return; }
  let r = task / u_row_words();
  let per_word = 32u / u_bits();
  let g0 = (task - r * u_row_words()) * per_word;
  var word = 0u;
  for (var q = 0u; q < per_word && g0 + q < u_groups(); q++) { word = word | (nearest(r, g0 + q) << (q * u_bits())); }
  codes_store_word(task, word);`)}`;

/** Dequantize: one thread per value, the bits of its centroid's coordinate (the row operands' f16 decoding needs soft-double.ts). */
const DEQUANTIZE_SOURCE = `${SOFT_DOUBLE_WGSL}
${taskEntry(`
  let d = u_groups() * u_channels();
  if (task >= u_rows() * d) { return; }
  let r = task / d;
  let i = task - r * d;
  let g = i / u_channels();
  let per_word = 32u / u_bits();
  let code = (codes_raw(codes_elem(r, g / per_word)) >> ((g % per_word) * u_bits())) & ((1u << u_bits()) - 1u);
  let book = ((r / u_n()) * u_groups() + g) * (1u << u_bits()) + code;
  out_store_raw(task, books_bits(books_elem(book, i - g * u_channels())));`)}`;

export function registerVectorWebGpuKernels(): void {
  registerKernel<'kvQuantizeVector', WebGpuBackend>('kvQuantizeVector', 'webgpu', (backend, [x, codebooks], { channels, bits }) => {
    const where = 'kvQuantizeVector';
    assertFloatInput(x, where);
    const [h, n, d] = x.shape;
    const groups = d / channels;
    const rowWords = wordsPerRow(groups, bits);
    const out = backend.empty([h, n, rowWords], 'u32');
    if (out.size === 0) return out;
    launchRows(backend, where, {
      operands: [rowOperand('x', x), rowOperand('books', codebooks)],
      outputs: [{ binding: { name: 'codes', dtype: 'u32', access: 'words' }, tensor: out }],
      uniforms: SIZE_UNIFORMS,
      values: { rows: h * n, n, groups, channels, bits, row_words: rowWords },
      source: QUANTIZE_SOURCE,
      tasks: out.size,
    });
    return out;
  });

  registerKernel<'kvDequantizeVector', WebGpuBackend>('kvDequantizeVector', 'webgpu', (backend, [codes, codebooks], { channels, bits }) => {
    const where = 'kvDequantizeVector';
    const [h, groups] = codebooks.shape;
    const n = codes.shape[1];
    const out = backend.empty([h, n, groups * channels], 'f32');
    if (out.size === 0) return out;
    launchRows(backend, where, {
      operands: [rowOperand('codes', codes), rowOperand('books', codebooks)],
      outputs: [{ binding: { name: 'out', dtype: 'u32', access: 'write' }, tensor: out }],
      uniforms: SIZE_UNIFORMS,
      values: { rows: h * n, n, groups, channels, bits, row_words: codes.shape[2] },
      source: DEQUANTIZE_SOURCE,
      tasks: out.size,
    });
    return out;
  });
}
