import { registerKernel, type Tensor } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { groupedRows } from '../kernels/grouped-rows.js';
import type {} from '../kernels/lut.js';
import { packedStore, storeWidth } from './packed-store.js';
import { assertFloatInput, DEQUANTIZE_TASK_WGSL, GROUP_RANGE_WGSL, groupedRowSizes, launchRows, PARAM_UNIFORMS, paramLayout, QUANTIZE_TASK_WGSL, rowOperand, taskEntry } from './rows.js';
import { SOFT_DOUBLE_WGSL } from './soft-double.js';

/**
 * The WGSL implementations of kvQuantizeLut / kvDequantizeLut, bit-exact with the CPU kernel
 * (kernels/lut.ts): the group's midpoint and spread, the normalized value (x − zero) / scale and
 * the nearest-level search's comparisons and differences are the CPU's float64 operations, redone
 * exactly on integers (soft-double.ts); parameters are rounded to f16/f32 as numeric/param-dtype.ts
 * does; x̂ = level · scale + zero is an exact product plus one float64 rounding, then one to f32.
 * Normalization, bit width and dtypes are uniforms: one pipeline per kernel.
 */

const SIZE_UNIFORMS = ['rows', 'n', 'group_size', 'groups', 'group_words', 'row_words', 'bits', 'minmax'].map((name) => ({ name, type: 'u32' as const }));

const LEVELS_WGSL = /* wgsl */ `
fn lut_level(k: u32) -> KvqF64 { return kvq_from_bits(levels_f32_bits(0u, k), 23u, 8u); }

// a <= b as IEEE compares (false when either is NaN).
fn lut_le(a: KvqF64, b: KvqF64) -> bool { return !kvq_is_nan(a) && !kvq_is_nan(b) && !kvq_less(b, a); }

// nearestLevel (kernels/lut.ts): NaN → 0, else the same comparisons and float64 differences in the
// same order, so a value exactly between two levels (after float64 rounding) takes the lower one.
fn lut_nearest(v: KvqF64, count: u32) -> u32 {
  if (kvq_is_nan(v)) { return 0u; }
  var lo = 0u;
  var hi = count - 1u;
  if (lut_le(v, lut_level(0u))) { return 0u; }
  if (lut_le(lut_level(hi), v)) { return hi; }
  while (hi - lo > 1u) {
    let mid = (lo + hi) >> 1u;
    if (lut_le(lut_level(mid), v)) { lo = mid; } else { hi = mid; }
  }
  return select(hi, lo, lut_le(kvq_add(v, kvq_negate(lut_level(lo))), kvq_add(lut_level(hi), kvq_negate(v))));
}`;

const PARAM_TO_BITS = (value: string, mode: string) => `kvq_to_bits(${value}, u_param_mb(), u_param_eb(), ${mode})`;
const PARAM_FROM_BITS = (bits: string) => `kvq_from_bits(${bits}, u_param_mb(), u_param_eb())`;

/** Quantize: one thread per (row, group) — with 'minmax' the group's parameters — then the group's words. */
const QUANTIZE_SOURCE = `${SOFT_DOUBLE_WGSL}
${LEVELS_WGSL}
${packedStore('scale').code}
${packedStore('zero').code}

${GROUP_RANGE_WGSL}

${taskEntry(`
${QUANTIZE_TASK_WGSL}
  let minmax = u_minmax() == 1u;
  var center = kvq_special(KVQ_ZERO, 0u);
  var half = kvq_special(KVQ_ZERO, 0u);
  if (minmax) {
    // zero = the midpoint (lo + hi) / 2 rounded to nearest; scale = the smallest parameter value
    // ≥ max(hi − zero, zero − lo) (Math.max: NaN if either is), or 0 unless that is > 0.
    let bounds = kvq_group_range(r, start, len);
    var mid = kvq_add(bounds.low, bounds.high);
    if (mid.cls == KVQ_FINITE) { mid.e = mid.e - 1; } // halving is exact: far from double's subnormals
    let zero_bits = ${PARAM_TO_BITS('mid', 'KVQ_NEAREST')};
    center = ${PARAM_FROM_BITS('zero_bits')};
    let above = kvq_add(bounds.high, kvq_negate(center));
    let below = kvq_add(center, kvq_negate(bounds.low));
    var spread = above;
    if (kvq_less(above, below)) { spread = below; }
    if (kvq_is_nan(above) || kvq_is_nan(below)) { spread = kvq_special(KVQ_NAN, 0u); }
    var scale_bits = 0u;
    if (kvq_less(kvq_special(KVQ_ZERO, 0u), spread)) { scale_bits = ${PARAM_TO_BITS('spread', 'KVQ_UP')}; }
    scale_put(task, scale_bits);
    zero_put(task, zero_bits);
    half = ${PARAM_FROM_BITS('scale_bits')};
  }
  let coded = kvq_less(kvq_special(KVQ_ZERO, 0u), half);
  let nc = kvq_negate(center);
  let level_count = 1u << bits;
  // A short last group takes only the words its codes need (tensor-core's wordsPerRow).
  for (var w = 0u; w < (len + per_word - 1u) / per_word; w++) {
    var word = 0u;
    for (var k = 0u; k < per_word; k++) {
      let i = w * per_word + k;
      if (i >= len) { break; }
      // 'none': the value itself ((x − 0) / 1 on the CPU, exact); 'minmax': (x − zero) / scale, or 0 without a scale.
      var v = kvq_from_bits(x_f32_bits(r, start + i), 23u, 8u);
      if (minmax) {
        v = kvq_special(KVQ_ZERO, 0u);
        if (coded) { v = kvq_div(kvq_add(kvq_from_bits(x_f32_bits(r, start + i), 23u, 8u), nc), half); }
      }
      word = word | (lut_nearest(v, level_count) << (k * bits));
    }
    codes_store_word(r * u_row_words() + g * u_group_words() + w, word);
  }`)}`;

/**
 * Dequantize: one thread per value. 'none': the level's bits; 'minmax': level · scale (exact in
 * float64: two 24-bit significands) + zero, rounded to float64 and then once to f32, as the CPU.
 */
const DEQUANTIZE_SOURCE = `${SOFT_DOUBLE_WGSL}
fn lut_mul(a: KvqF64, b: KvqF64) -> KvqF64 {
  let s = a.neg ^ b.neg;
  if (a.cls == KVQ_NAN || b.cls == KVQ_NAN) { return kvq_special(KVQ_NAN, 0u); }
  let zero = a.cls == KVQ_ZERO || b.cls == KVQ_ZERO;
  if (a.cls == KVQ_INF || b.cls == KVQ_INF) { return kvq_special(select(KVQ_INF, KVQ_NAN, zero), s); }
  if (zero) { return kvq_special(KVQ_ZERO, s); }
  // The 24 significant bits of each (the low 29 of the 53 are zero): value = x · 2^(e + 29).
  let x = (a.m.y << 3u) | (a.m.x >> 29u);
  let y = (b.m.y << 3u) | (b.m.x >> 29u);
  let xl = x & 0xfffu;
  let xh = x >> 12u;
  let yl = y & 0xfffu;
  let yh = y >> 12u;
  var p = vec2<u32>(xl * yl, 0u);
  p = kvq_add64(p, kvq_shl64(vec2<u32>(xh * yl + xl * yh, 0u), 12u));
  p = kvq_add64(p, kvq_shl64(vec2<u32>(xh * yh, 0u), 24u));
  return kvq_round(s, a.e + b.e + 58, p);
}
${taskEntry(`
${DEQUANTIZE_TASK_WGSL}
  let level = levels_f32_bits(0u, code);
  if (u_minmax() == 0u) {
    out_store_raw(task, level);
    return;
  }
  let product = lut_mul(kvq_from_bits(level, 23u, 8u), kvq_from_bits(scale_f32_bits(r, g), 23u, 8u));
  out_store_raw(task, kvq_to_bits(kvq_add(product, kvq_from_bits(zero_f32_bits(r, g), 23u, 8u)), 23u, 8u, KVQ_NEAREST));`)}`;

function sizes(rows: number, n: number, groupSize: number, bits: number, minmax: boolean) {
  return { ...groupedRowSizes(rows, n, groupSize, bits), minmax: minmax ? 1 : 0 };
}

export function registerLutWebGpuKernels(): void {
  registerKernel<'kvQuantizeLut', WebGpuBackend>('kvQuantizeLut', 'webgpu', (backend, [x, levels], { bits, groupSize, normalize, paramDType }) => {
    const where = 'kvQuantizeLut';
    assertFloatInput(x, where);
    const paramBits = paramLayout(paramDType, where);
    const minmax = normalize === 'minmax';
    const { n, lead, rows } = groupedRows(x, bits, groupSize);
    const size = sizes(rows, n, groupSize, bits, minmax);
    const codes = backend.empty([...lead, size.row_words], 'u32');
    const scale = minmax ? backend.empty([...lead, size.groups], paramDType) : undefined;
    const zero = minmax ? backend.empty([...lead, size.groups], paramDType) : undefined;
    const tasks = rows * size.groups;
    if (tasks === 0) return { codes, scale, zero };
    // Without normalization no parameters are written: one-word placeholders take the bindings.
    const scaleTarget = scale ?? backend.empty([1], 'u32');
    const zeroTarget = zero ?? backend.empty([1], 'u32');
    const param = (name: string, tensor: Tensor) => ({ binding: { name, dtype: 'u32' as const, access: 'atomic' as const }, tensor });
    const width = storeWidth(paramDType);
    launchRows(backend, where, {
      operands: [rowOperand('x', x), rowOperand('levels', levels)],
      outputs: [{ binding: { name: 'codes', dtype: 'u32', access: 'words' }, tensor: codes }, param('scale', scaleTarget), param('zero', zeroTarget)],
      uniforms: [...SIZE_UNIFORMS, ...PARAM_UNIFORMS, packedStore('scale').uniform, packedStore('zero').uniform],
      values: { ...size, ...paramBits, scale_width: width, zero_width: width },
      source: QUANTIZE_SOURCE,
      tasks,
    });
    if (!scale) scaleTarget.dispose();
    if (!zero) zeroTarget.dispose();
    return { codes, scale, zero };
  });

  registerKernel<'kvDequantizeLut', WebGpuBackend>('kvDequantizeLut', 'webgpu', (backend, [codes, levels, scale, zero], { bits, groupSize, length }) => {
    const where = 'kvDequantizeLut';
    const minmax = scale !== undefined && zero !== undefined;
    for (const t of minmax ? [levels, scale, zero] : [levels]) assertFloatInput(t, where);
    const out = backend.empty([...codes.shape.slice(0, -1), length], 'f32');
    if (out.size === 0) return out;
    // Without normalization the level table takes the unread scale and zero bindings.
    launchRows(backend, where, {
      operands: [rowOperand('codes', codes), rowOperand('levels', levels), rowOperand('scale', scale ?? levels), rowOperand('zero', zero ?? levels)],
      outputs: [{ binding: { name: 'out', dtype: 'u32', access: 'write' }, tensor: out }],
      uniforms: SIZE_UNIFORMS,
      values: sizes(out.size / length, length, groupSize, bits, minmax),
      source: DEQUANTIZE_SOURCE,
      tasks: out.size,
    });
    return out;
  });
}
