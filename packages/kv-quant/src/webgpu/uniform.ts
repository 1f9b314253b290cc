import { registerKernel, type Tensor, UnsupportedDTypeError, wordsPerRow } from '@kvkit/tensor-core';
import { rawAlias, type WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import type { UniformQuantAttrs } from '../kernels/uniform.js';
import { floatBitsReader, ieeeLayout, rowOperand, taskEntry, taskGrid } from './rows.js';
import { SOFT_DOUBLE_WGSL } from './soft-double.js';

/**
 * The WGSL implementations of kvQuantizeUniform / kvDequantizeUniform, bit-exact with the CPU
 * kernel (kernels/uniform.ts): the same float64 operations in the same order, done exactly on
 * integers (soft-double.ts), parameters rounded outward to f16/f32, codes in tensor-core's packed
 * layout. Inputs are read in place through their strides (per-channel groups are transposed views).
 */

const SIZE_UNIFORMS = ['rows', 'n', 'group_size', 'groups', 'group_words', 'row_words', 'bits'].map((name) => ({ name, type: 'u32' as const }));

/** Quantize: one thread per (row, group) — min/max or abs-max, parameters, then the group's words. */
function quantizeSource(symmetric: boolean, [pmb, peb]: [number, number]): string {
  const param = (bits: string) => `kvq_from_bits(${bits}, ${pmb}u, ${peb}u)`;
  const toParam = (value: string, mode: string) => `kvq_to_bits(${value}, ${pmb}u, ${peb}u, ${mode})`;
  const x = 'kvq_from_bits(x_f32_bits(r, start + i), 23u, 8u)';
  const parameters = symmetric
    ? `
  // absMax = max(+0, |x|…), NaN propagating; scale = the smallest parameter value ≥ absMax / (2^(b−1) − 1).
  var amax = 0u;
  var nan = false;
  for (var i = 0u; i < len; i++) {
    let b = x_f32_bits(r, start + i) & 0x7fffffffu;
    nan = nan || kvq_is_nan_bits(b);
    amax = max(amax, b);
  }
  var a = kvq_from_bits(amax, 23u, 8u);
  if (nan) { a = kvq_special(KVQ_NAN, 0u); }
  var scale_bits = 0u;
  if (kvq_less(kvq_special(KVQ_ZERO, 0u), a)) { scale_bits = ${toParam('kvq_div(a, kvq_from_uint(half - 1u))', 'KVQ_UP')}; }
  scale_store_raw(task, scale_bits);
  let lo = 1 - i32(half);
  let hi = i32(half) - 1;
  let offset = half;`
    : `
  // lo/hi as Math.min/Math.max (−0 below +0, NaN propagating); zero = the largest parameter value
  // ≤ lo; scale = the smallest ≥ (hi − zero) / (2^b − 1), or 0 unless hi > zero.
  var lo_bits = 0x7f800000u;
  var hi_bits = 0xff800000u;
  var nan = false;
  for (var i = 0u; i < len; i++) {
    let b = x_f32_bits(r, start + i);
    nan = nan || kvq_is_nan_bits(b);
    if (kvq_order(b) < kvq_order(lo_bits)) { lo_bits = b; }
    if (kvq_order(b) > kvq_order(hi_bits)) { hi_bits = b; }
  }
  var low = kvq_from_bits(lo_bits, 23u, 8u);
  var high = kvq_from_bits(hi_bits, 23u, 8u);
  if (nan) {
    low = kvq_special(KVQ_NAN, 0u);
    high = low;
  }
  let zero_bits = ${toParam('low', 'KVQ_DOWN')};
  let z = ${param('zero_bits')};
  var scale_bits = 0u;
  if (kvq_less(z, high)) { scale_bits = ${toParam('kvq_div(kvq_add(high, kvq_negate(z)), kvq_from_uint(top))', 'KVQ_UP')}; }
  scale_store_raw(task, scale_bits);
  zero_store_raw(task, zero_bits);
  let nz = kvq_negate(z);
  let lo = 0;
  let hi = i32(top);
  let offset = 0u;`;
  const quotient = symmetric ? `kvq_div(${x}, s)` : `kvq_div(kvq_add(${x}, nz), s)`;
  return `${SOFT_DOUBLE_WGSL}
${taskEntry(`
  if (task >= u_rows() * u_groups()) { return; }
  let r = task / u_groups();
  let g = task - r * u_groups();
  let start = g * u_group_size();
  let len = min(u_group_size(), u_n() - start);
  let bits = u_bits();
  let per_word = 32u / bits;
  let top = (1u << bits) - 1u;
  let half = 1u << (bits - 1u);
${parameters}
  let s = ${param('scale_bits')};
  let coded = kvq_less(kvq_special(KVQ_ZERO, 0u), s);
  // code = offset + clamp(rint(q), lo, hi); a NaN quotient gives code 0, as NaN stored in a Uint8Array.
  // A short last group takes only the words its codes need (tensor-core's wordsPerRow).
  for (var w = 0u; w < (len + per_word - 1u) / per_word; w++) {
    var word = 0u;
    for (var k = 0u; k < per_word; k++) {
      let i = w * per_word + k;
      if (i >= len) { break; }
      var code = offset;
      if (coded) {
        let q = ${quotient};
        code = select(offset + u32(kvq_rint_clamp(q, lo, hi)), 0u, kvq_is_nan(q));
      }
      word = word | (code << (k * bits));
    }
    codes_store_word(r * u_row_words() + g * u_group_words() + w, word);
  }`)}`;
}

/** Dequantize: one thread per value, x̂ = (code − offset) · scale + zero in float64, rounded once to f32. */
function dequantizeSource(symmetric: boolean, [pmb, peb]: [number, number]): string {
  const param = (operand: string, column: string) => `kvq_from_bits(${operand}_raw(${operand}_elem(r, ${column})), ${pmb}u, ${peb}u)`;
  const value = symmetric
    ? `kvq_add(kvq_mul_uint(s, select(code - half, half - code, code < half), select(0u, 1u, code < half), 0), kvq_special(KVQ_ZERO, 0u))`
    : `kvq_add(kvq_mul_uint(s, code, 0u, 0), ${param('zero', 'g')})`;
  return `${SOFT_DOUBLE_WGSL}
${taskEntry(`
  if (task >= u_rows() * u_n()) { return; }
  let r = task / u_n();
  let i = task - r * u_n();
  let g = i / u_group_size();
  let j = i - g * u_group_size();
  let bits = u_bits();
  let per_word = 32u / bits;
  let half = 1u << (bits - 1u);
  let word = codes_raw(codes_elem(r, g * u_group_words() + j / per_word));
  let code = (word >> ((j % per_word) * bits)) & ((1u << bits) - 1u);
  let s = ${param('scale', 'g')};
  out_store_raw(task, kvq_to_bits(${value}, 23u, 8u, KVQ_NEAREST));`)}`;
}

function sizes(rows: number, n: number, groupSize: number, bits: number) {
  const perWord = Math.floor(32 / bits);
  return {
    rows,
    n,
    group_size: groupSize,
    groups: Math.ceil(n / groupSize),
    group_words: Math.ceil(groupSize / perWord),
    row_words: wordsPerRow(n, bits, groupSize),
    bits,
  };
}

export function registerUniformWebGpuKernels(): void {
  registerKernel<'kvQuantizeUniform', WebGpuBackend>('kvQuantizeUniform', 'webgpu', (backend, [x], { bits, groupSize, symmetric, paramDType }) => {
    const where = 'kvQuantizeUniform';
    const n = x.shape[x.rank - 1];
    const lead = x.shape.slice(0, -1);
    const rows = n === 0 ? 0 : x.size / n;
    const size = sizes(rows, n, groupSize, bits);
    const codes = backend.empty([...lead, size.row_words], 'u32');
    const scale = backend.empty([...lead, size.groups], paramDType);
    const zero = symmetric ? undefined : backend.empty([...lead, size.groups], paramDType);
    const tasks = rows * size.groups;
    if (tasks === 0) return { codes, scale, zero };
    const input = rowOperand('x', x);
    const reader = floatBitsReader('x', x.dtype, where);
    const layout = ieeeLayout(paramDType, where);
    const param = rawAlias(paramDType);
    const program = backend.program(`${where}:${x.dtype}:${x.rank}:${paramDType}:${symmetric ? 'sym' : 'asym'}`, () => ({
      bindings: [
        input.binding,
        { name: 'codes', dtype: 'u32', access: 'words' },
        { name: 'scale', dtype: param, access: 'write' },
        ...(zero ? [{ name: 'zero', dtype: param, access: 'write' as const }] : []),
      ],
      uniforms: [...SIZE_UNIFORMS, ...input.uniforms],
      code: `${input.code}\n${reader}\n${quantizeSource(symmetric, layout)}`,
    }));
    backend.dispatch(program, zero ? [x, codes, scale, zero] : [x, codes, scale], { ...size, ...input.values }, taskGrid(backend, tasks));
    return { codes, scale, zero };
  });

  registerKernel<'kvDequantizeUniform', WebGpuBackend>('kvDequantizeUniform', 'webgpu', (backend, [codes, scale, zero], { bits, groupSize, length }) => {
    const where = 'kvDequantizeUniform';
    if (zero && zero.dtype !== scale.dtype) throw new UnsupportedDTypeError(`${where} (webgpu): zero (${zero.dtype}) must have the dtype of scale (${scale.dtype})`);
    const layout = ieeeLayout(scale.dtype, where);
    const out = backend.empty([...codes.shape.slice(0, -1), length], 'f32');
    if (out.size === 0) return out;
    const operands = [rowOperand('codes', codes), rowOperand('scale', scale), ...(zero ? [rowOperand('zero', zero)] : [])];
    const symmetric = !zero;
    const program = backend.program(`${where}:${codes.rank}:${scale.dtype}:${symmetric ? 'sym' : 'asym'}`, () => ({
      bindings: [...operands.map((o) => o.binding), { name: 'out', dtype: 'u32', access: 'write' }],
      uniforms: [...SIZE_UNIFORMS, ...operands.flatMap((o) => o.uniforms)],
      code: `${operands.map((o) => o.code).join('\n')}\n${dequantizeSource(symmetric, layout)}`,
    }));
    const inputs: Tensor[] = zero ? [codes, scale, zero] : [codes, scale];
    const values = Object.assign({}, sizes(out.size / length, length, groupSize, bits), ...operands.map((o) => o.values));
    backend.dispatch(program, [...inputs, out], values, taskGrid(backend, out.size));
    return out;
  });
}
