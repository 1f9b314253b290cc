import { registerKernel, wordsPerRow } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import type {} from '../kernels/fp8.js';
import type { Fp8Format } from '../numeric/fp8.js';
import { assertFloatInput, launchRows, rowOperand, taskEntry } from './rows.js';
import { FAST_PATH_WGSL } from './fast-path.js';
import { SOFT_DOUBLE_WGSL } from './soft-double.js';

/**
 * The WGSL implementations of kvQuantizeFp8 / kvDequantizeFp8, bit-exact with the CPU kernel
 * (kernels/fp8.ts, numeric/fp8.ts): x / scale in float64 (soft-double.ts), then the nearest FP8
 * code (ties to the even code, finite values saturating, e5m2 keeping ±∞, NaN → 0x7f); decoding
 * multiplies the code's exact value by the scale and rounds once to f32.
 */

const exponentBits = (format: Fp8Format): number => (format === 'e4m3' ? 4 : 5);

const FP8_WGSL = /* wgsl */ `
// The code of a (numeric/fp8.ts encodeFp8) in the format with eb exponent bits (e4m3: 4, e5m2: 5).
fn kvq_fp8_encode(a: KvqF64, eb: u32) -> u32 {
  if (a.cls == KVQ_NAN) { return 0x7fu; }
  let sign = a.neg << 7u;
  let mb = 7u - eb;
  let last = select(0x7bu, 0x7eu, eb == 4u); // the largest finite code: 448 (e4m3), 57344 (e5m2)
  if (a.cls == KVQ_INF) { return sign | select(last, 0x7cu, eb == 5u); }
  if (a.cls == KVQ_ZERO) { return sign; }
  let bias = (1 << (eb - 1u)) - 1;
  let top = a.e + 52;
  let last_top = i32(last >> mb) - bias;
  // Both largest values have significand 1.11 (binary): 1.75 · 2^52 is 0x1c0000 in the high word.
  if (top > last_top || (top == last_top && a.m.y >= 0x1c0000u)) { return sign | last; }
  let eff = max(top, 1 - bias);
  let k = kvq_round_nearest(kvq_shr64_sticky(a.m, u32(eff - i32(mb) - a.e - 2)).x);
  return sign | ((u32(eff + bias - 1) << mb) + k);
}

// value(code) · f, the product exact in float64 (4 × 24 bits), then rounded once to f32.
fn kvq_fp8_scaled(code: u32, eb: u32, f: KvqF64) -> KvqF64 {
  let mb = 7u - eb;
  let all = (1u << eb) - 1u;
  let sign = code >> 7u;
  let ex = (code >> mb) & all;
  let man = code & ((1u << mb) - 1u);
  let bias = (1 << (eb - 1u)) - 1;
  let special = select(ex == all && man == (1u << mb) - 1u, ex == all, eb == 5u);
  if (special) {
    if (eb == 4u || man != 0u || f.cls == KVQ_NAN || f.cls == KVQ_ZERO) { return kvq_special(KVQ_NAN, 0u); }
    return kvq_special(KVQ_INF, sign ^ f.neg);
  }
  if (ex == 0u) { return kvq_mul_uint(f, man, sign, 1 - bias - i32(mb)); }
  return kvq_mul_uint(f, man | (1u << mb), sign, i32(ex) - bias - i32(mb));
}`;

/** The scale of row `r`: one per slice of the first axis (rows_per_scale rows each) or one for all. */
const SCALE_OF_ROW = `fn scale_of(r: u32) -> KvqF64 { return kvq_from_bits(scale_bits(scale_elem(0u, r / u_rows_per_scale())), 23u, 8u); }`;

const SIZE_UNIFORMS = ['rows', 'n', 'row_words', 'rows_per_scale', 'exponent_bits'].map((name) => ({ name, type: 'u32' as const }));

/** Quantize: one thread per output word (four codes). */
const QUANTIZE_SOURCE = `${SOFT_DOUBLE_WGSL}
${FAST_PATH_WGSL}
${FP8_WGSL}
${SCALE_OF_ROW}
${taskEntry(`
  if (task >= u_rows() * u_row_words()) { return; }
  let r = task / u_row_words();
  let first = (task - r * u_row_words()) * 4u;
  let f_bits = scale_bits(scale_elem(0u, r / u_rows_per_scale()));
  let f = kvq_from_bits(f_bits, 23u, 8u);
  let positive = kvq_less(kvq_special(KVQ_ZERO, 0u), f);
  let tame = kvq_tame(f_bits, false);
  var word = 0u;
  for (var k = 0u; k < 4u && first + k < u_n(); k++) {
    var code = 0u; // the code of +0 (no positive scale)
    if (positive) {
      let xb = x_f32_bits(r, first + k);
      code = 0xffffffffu;
      if (tame && kvq_tame(xb, false)) { code = kvq_fast_fp8(bitcast<f32>(xb) / bitcast<f32>(f_bits), u_exponent_bits()); }
      if (code == 0xffffffffu) { code = kvq_fp8_encode(kvq_div(kvq_from_bits(xb, 23u, 8u), f), u_exponent_bits()); }
    }
    word = word | (code << (8u * k));
  }
  codes_store_word(task, word);`)}`;

/** Dequantize: one thread per value. */
const DEQUANTIZE_SOURCE = `${SOFT_DOUBLE_WGSL}
${FP8_WGSL}
${SCALE_OF_ROW}
${taskEntry(`
  if (task >= u_rows() * u_n()) { return; }
  let r = task / u_n();
  let j = task - r * u_n();
  let code = (codes_bits(codes_elem(r, j / 4u)) >> (8u * (j % 4u))) & 0xffu;
  out_store_raw(task, kvq_to_bits(kvq_fp8_scaled(code, u_exponent_bits(), scale_of(r)), 23u, 8u, KVQ_NEAREST));`)}`;

export function registerFp8WebGpuKernels(): void {
  registerKernel<'kvQuantizeFp8', WebGpuBackend>('kvQuantizeFp8', 'webgpu', (backend, [x, scale], { format }) => {
    const where = 'kvQuantizeFp8';
    assertFloatInput(x, where);
    const n = x.shape[x.rank - 1];
    const rowWords = wordsPerRow(n, 8);
    const out = backend.empty([...x.shape.slice(0, -1), rowWords], 'u32');
    if (out.size === 0) return out;
    const rows = x.size / n;
    launchRows(backend, where, {
      operands: [rowOperand('x', x), rowOperand('scale', scale)],
      outputs: [{ binding: { name: 'codes', dtype: 'u32', access: 'words' }, tensor: out }],
      uniforms: SIZE_UNIFORMS,
      values: { rows, n, row_words: rowWords, rows_per_scale: rows / scale.size, exponent_bits: exponentBits(format) },
      source: QUANTIZE_SOURCE,
      tasks: out.size,
    });
    return out;
  });

  registerKernel<'kvDequantizeFp8', WebGpuBackend>('kvDequantizeFp8', 'webgpu', (backend, [codes, scale], { format, length }) => {
    const where = 'kvDequantizeFp8';
    const out = backend.empty([...codes.shape.slice(0, -1), length], 'f32');
    if (out.size === 0) return out;
    const rows = out.size / length;
    launchRows(backend, where, {
      operands: [rowOperand('codes', codes), rowOperand('scale', scale)],
      outputs: [{ binding: { name: 'out', dtype: 'u32', access: 'write' }, tensor: out }],
      uniforms: SIZE_UNIFORMS,
      values: { rows, n: length, row_words: codes.shape[codes.rank - 1], rows_per_scale: rows / scale.size, exponent_bits: exponentBits(format) },
      source: DEQUANTIZE_SOURCE,
      tasks: out.size,
    });
    return out;
  });
}
