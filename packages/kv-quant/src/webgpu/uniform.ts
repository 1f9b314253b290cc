import { registerKernel, type Tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { groupedRows } from '../kernels/grouped-rows.js';
import type {} from '../kernels/uniform.js';
import { assertFloatInput, DEQUANTIZE_TASK_WGSL, GROUP_RANGE_WGSL, groupedRowSizes, launchRows, PARAM_UNIFORMS, paramLayout, QUANTIZE_TASK_WGSL, rowOperand, taskEntry } from './rows.js';
import { FAST_PATH_WGSL } from './fast-path.js';
import { SOFT_DOUBLE_WGSL } from './soft-double.js';

/**
 * The WGSL implementations of kvQuantizeUniform / kvDequantizeUniform, bit-exact with the CPU
 * kernel (kernels/uniform.ts): the same float64 operations in the same order, done exactly on
 * integers (soft-double.ts), parameters rounded outward to f16/f32, codes in tensor-core's packed
 * layout. Inputs are read in place through their strides (per-channel groups are transposed views).
 * Bit width, symmetry and the input and parameter dtypes are uniforms: one pipeline per kernel.
 */

const SIZE_UNIFORMS = ['rows', 'n', 'group_size', 'groups', 'group_words', 'row_words', 'bits', 'symmetric'].map((name) => ({ name, type: 'u32' as const }));

const PARAM = (bits: string) => `kvq_from_bits(${bits}, u_param_mb(), u_param_eb())`;
const TO_PARAM = (value: string, mode: string) => `kvq_to_bits(${value}, u_param_mb(), u_param_eb(), ${mode})`;

/** `fn NAME_put(e, bits)`: stores an f16 or f32 parameter (f16 two to a word, by atomic read-modify-write). */
function paramStore(name: string): string {
  return `fn ${name}_put(e: u32, bits: u32) {
  if (u_param_eb() == 8u) {
    atomicStore(&${name}[e], bits);
    return;
  }
  let p = (e & 1u) * 16u;
  atomicAnd(&${name}[e >> 1u], ~(0xffffu << p));
  atomicOr(&${name}[e >> 1u], (bits & 0xffffu) << p);
}`;
}

/** Quantize: one thread per (row, group) — min/max or abs-max, parameters, then the group's words. */
const QUANTIZE_SOURCE = `${SOFT_DOUBLE_WGSL}
${FAST_PATH_WGSL}
${paramStore('scale')}
${paramStore('zero')}
${GROUP_RANGE_WGSL}

// Symmetric: absMax = max(+0, |x|…), NaN propagating; scale = the smallest parameter value
// ≥ absMax / (2^(b−1) − 1). Returns the scale's bits.
fn symmetric_scale(r: u32, start: u32, len: u32, half: u32) -> u32 {
  var amax = 0u;
  var nan = false;
  for (var i = 0u; i < len; i++) {
    let b = x_f32_bits(r, start + i) & 0x7fffffffu;
    nan = nan || kvq_is_nan_bits(b);
    amax = max(amax, b);
  }
  var a = kvq_from_bits(amax, 23u, 8u);
  if (nan) { a = kvq_special(KVQ_NAN, 0u); }
  if (!kvq_less(kvq_special(KVQ_ZERO, 0u), a)) { return 0u; }
  return ${TO_PARAM('kvq_div(a, kvq_from_uint(half - 1u))', 'KVQ_UP')};
}

// Asymmetric: lo/hi as Math.min/Math.max (−0 below +0, NaN propagating); zero = the largest
// parameter value ≤ lo; scale = the smallest ≥ (hi − zero) / (2^b − 1), or 0 unless hi > zero.
// Returns (scale bits, zero bits).
fn asymmetric_parameters(r: u32, start: u32, len: u32, top: u32) -> vec2<u32> {
  let range = kvq_group_range(r, start, len);
  let low = range.low;
  let high = range.high;
  let zero_bits = ${TO_PARAM('low', 'KVQ_DOWN')};
  let z = ${PARAM('zero_bits')};
  if (!kvq_less(z, high)) { return vec2<u32>(0u, zero_bits); }
  return vec2<u32>(${TO_PARAM('kvq_div(kvq_add(high, kvq_negate(z)), kvq_from_uint(top))', 'KVQ_UP')}, zero_bits);
}

${taskEntry(`
${QUANTIZE_TASK_WGSL}
  let top = (1u << bits) - 1u;
  let half = 1u << (bits - 1u);
  let symmetric = u_symmetric() == 1u;
  var scale_bits = 0u;
  var z = kvq_special(KVQ_ZERO, 0u);
  var p_zero_bits = 0u;
  var lo = 0;
  var hi = i32(top);
  var offset = 0u;
  if (symmetric) {
    scale_bits = symmetric_scale(r, start, len, half);
    lo = 1 - i32(half);
    hi = i32(half) - 1;
    offset = half;
  } else {
    let p = asymmetric_parameters(r, start, len, top);
    scale_bits = p.x;
    p_zero_bits = p.y;
    zero_put(task, p.y);
    z = ${PARAM('p.y')};
  }
  scale_put(task, scale_bits);
  let s = ${PARAM('scale_bits')};
  let coded = kvq_less(kvq_special(KVQ_ZERO, 0u), s);
  let nz = kvq_negate(z);
  // The parameters as f32, for the f32 shortcut (fast-path.ts) where they are tame.
  var zero_f32 = 0u;
  if (!symmetric) { zero_f32 = select(p_zero_bits, kvq_f16_to_f32_bits(p_zero_bits), u_param_eb() == 5u); }
  let scale_f32 = select(scale_bits, kvq_f16_to_f32_bits(scale_bits), u_param_eb() == 5u);
  let tame = kvq_tame(zero_f32, true) && kvq_tame(scale_f32, false);
  let zf = bitcast<f32>(zero_f32);
  let sf = bitcast<f32>(scale_f32);
  // code = offset + clamp(rint(q), lo, hi) with q = (x − zero) / scale (x / scale when symmetric);
  // a NaN quotient gives code 0 (NaN stored in a Uint8Array), no scale gives the offset.
  // A short last group takes only the words its codes need (tensor-core's wordsPerRow).
  for (var w = 0u; w < (len + per_word - 1u) / per_word; w++) {
    var word = 0u;
    for (var k = 0u; k < per_word; k++) {
      let i = w * per_word + k;
      if (i >= len) { break; }
      var code = offset;
      if (coded) {
        let xb = x_f32_bits(r, start + i);
        var k = -2147483647 - 1;
        if (tame && kvq_tame(xb, true)) { k = kvq_fast_rint((bitcast<f32>(xb) - zf) / sf); }
        if (k != -2147483647 - 1) {
          code = offset + u32(clamp(k, lo, hi));
        } else {
          var d = kvq_from_bits(xb, 23u, 8u);
          if (!symmetric) { d = kvq_add(d, nz); }
          let q = kvq_div(d, s);
          code = select(offset + u32(kvq_rint_clamp(q, lo, hi)), 0u, kvq_is_nan(q));
        }
      }
      word = word | (code << (k * bits));
    }
    codes_store_word(r * u_row_words() + g * u_group_words() + w, word);
  }`)}`;

/**
 * Dequantize: one thread per value, x̂ = (code − offset) · scale + zero (+ 0 when symmetric) in
 * float64, rounded once to f32. A symmetric launch binds the scale again as its zero (unread).
 */
const DEQUANTIZE_SOURCE = `${SOFT_DOUBLE_WGSL}
${taskEntry(`
${DEQUANTIZE_TASK_WGSL}
  let s = ${PARAM('scale_bits(scale_elem(r, g))')};
  var v: KvqF64;
  if (u_symmetric() == 1u) {
    let half = 1u << (bits - 1u);
    let below = code < half;
    v = kvq_add(kvq_mul_uint(s, select(code - half, half - code, below), select(0u, 1u, below), 0), kvq_special(KVQ_ZERO, 0u));
  } else {
    v = kvq_add(kvq_mul_uint(s, code, 0u, 0), ${PARAM('zero_bits(zero_elem(r, g))')});
  }
  out_store_raw(task, kvq_to_bits(v, 23u, 8u, KVQ_NEAREST));`)}`;

function sizes(rows: number, n: number, groupSize: number, bits: number, symmetric: boolean) {
  return { ...groupedRowSizes(rows, n, groupSize, bits), symmetric: symmetric ? 1 : 0 };
}

export function registerUniformWebGpuKernels(): void {
  registerKernel<'kvQuantizeUniform', WebGpuBackend>('kvQuantizeUniform', 'webgpu', (backend, [x], { bits, groupSize, symmetric, paramDType }) => {
    const where = 'kvQuantizeUniform';
    assertFloatInput(x, where);
    const paramBits = paramLayout(paramDType, where);
    const { n, lead, rows } = groupedRows(x, bits, groupSize);
    const size = sizes(rows, n, groupSize, bits, symmetric);
    const codes = backend.empty([...lead, size.row_words], 'u32');
    const scale = backend.empty([...lead, size.groups], paramDType);
    const zero = symmetric ? undefined : backend.empty([...lead, size.groups], paramDType);
    const tasks = rows * size.groups;
    if (tasks === 0) return { codes, scale, zero };
    // The symmetric launch writes no zero points: a one-word placeholder takes the binding.
    const zeroTarget = zero ?? backend.empty([1], 'u32');
    const param = (name: string, tensor: Tensor) => ({ binding: { name, dtype: 'u32' as const, access: 'atomic' as const }, tensor });
    launchRows(backend, where, {
      operands: [rowOperand('x', x)],
      outputs: [{ binding: { name: 'codes', dtype: 'u32', access: 'words' }, tensor: codes }, param('scale', scale), param('zero', zeroTarget)],
      uniforms: [...SIZE_UNIFORMS, ...PARAM_UNIFORMS],
      values: { ...size, ...paramBits },
      source: QUANTIZE_SOURCE,
      tasks,
    });
    if (!zero) zeroTarget.dispose();
    return { codes, scale, zero };
  });

  registerKernel<'kvDequantizeUniform', WebGpuBackend>('kvDequantizeUniform', 'webgpu', (backend, [codes, scale, zero], { bits, groupSize, length }) => {
    const where = 'kvDequantizeUniform';
    if (zero && zero.dtype !== scale.dtype) throw new UnsupportedDTypeError(`${where} (webgpu): zero (${zero.dtype}) must have the dtype of scale (${scale.dtype})`);
    const param = paramLayout(scale.dtype, where);
    const out = backend.empty([...codes.shape.slice(0, -1), length], 'f32');
    if (out.size === 0) return out;
    launchRows(backend, where, {
      operands: [rowOperand('codes', codes), rowOperand('scale', scale), rowOperand('zero', zero ?? scale)],
      outputs: [{ binding: { name: 'out', dtype: 'u32', access: 'write' }, tensor: out }],
      uniforms: [...SIZE_UNIFORMS, ...PARAM_UNIFORMS],
      values: { ...sizes(out.size / length, length, groupSize, bits, !zero), ...param },
      source: DEQUANTIZE_SOURCE,
      tasks: out.size,
    });
    return out;
  });
}
