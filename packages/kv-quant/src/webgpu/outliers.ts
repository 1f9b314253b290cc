import { registerKernel, type Tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { emptyOutlierSplit } from '../kernels/outlier-outputs.js';
import type {} from '../kernels/outliers.js';
import { packedStore, storeWidth } from './packed-store.js';
import { assertFloatInput, launchRows, rowOperand, taskEntry } from './rows.js';
import { SOFT_DOUBLE_WGSL } from './soft-double.js';

/**
 * The WGSL implementations of kvSplitOutliers / kvMergeOutliers, bit-exact with the CPU kernel
 * (kernels/outliers.ts). Split: one thread per row; the row mean, the distances |x − center| and
 * the inliers' mean are the CPU's float64 operations redone exactly (soft-double.ts). Each
 * distance becomes the 64-bit key of its float64 bits (NaN above +∞), kept in a scratch buffer, and
 * an entry is an outlier when fewer than `count` entries rank before it (a larger key, or an equal
 * key at a lower index) — outlierIndices' order. Merge: one thread per value, the last matching
 * index winning, an index outside the row matching nothing.
 */

const SPLIT_SOURCE = `${SOFT_DOUBLE_WGSL}
${packedStore('indices').code}
${packedStore('values').code}

// The float64 bits of |a| as (low, high), ordered as the magnitudes are; NaN above +∞.
fn distance_key(a: KvqF64) -> vec2<u32> {
  if (a.cls == KVQ_NAN) { return vec2<u32>(0xffffffffu, 0xffffffffu); }
  if (a.cls == KVQ_INF) { return vec2<u32>(0u, 0x7ff00000u); }
  if (a.cls == KVQ_ZERO) { return vec2<u32>(0u, 0u); }
  return vec2<u32>(a.m.x, (u32(a.e + 1075) << 20u) | (a.m.y & 0xfffffu));
}

fn key_of(e: u32) -> vec2<u32> { return vec2<u32>(scratch[2u * e], scratch[2u * e + 1u]); }

${taskEntry(`
  if (task >= u_rows()) { return; }
  let r = task;
  let d = u_n();
  let count = u_count();
  let base = r * d;
  var center = kvq_special(KVQ_ZERO, 0u);
  if (u_mean() == 1u) {
    var sum = kvq_special(KVQ_ZERO, 0u);
    for (var i = 0u; i < d; i++) { sum = kvq_add(sum, kvq_from_bits(sel_f32_bits(r, i), 23u, 8u)); }
    center = kvq_div(sum, kvq_from_uint(d));
  }
  let nc = kvq_negate(center);
  for (var i = 0u; i < d; i++) {
    let key = distance_key(kvq_add(kvq_from_bits(sel_f32_bits(r, i), 23u, 8u), nc));
    scratch[2u * (base + i)] = key.x;
    scratch[2u * (base + i) + 1u] = key.y;
  }
  // In index order: the outliers to the sparse outputs (ascending indices, as the CPU sorts them),
  // the inliers to the dense output and to their float64 sum.
  var picked = 0u;
  var inlier_sum = kvq_special(KVQ_ZERO, 0u);
  for (var i = 0u; i < d; i++) {
    let ki = key_of(base + i);
    var rank = 0u;
    for (var j = 0u; j < d && rank < count; j++) {
      let kj = key_of(base + j);
      let tie = kj.x == ki.x && kj.y == ki.y;
      if (j != i && (kvq_less64(ki, kj) || (tie && j < i))) { rank++; }
    }
    let xb = sel_f32_bits(r, i);
    if (rank < count) {
      let o = r * count + picked;
      indices_put(o, i);
      let vb = src_f32_bits(r, i);
      values_put(o, select(vb, kvq_to_bits(kvq_from_bits(vb, 23u, 8u), 10u, 5u, KVQ_NEAREST), u_values_width() == 16u));
      picked++;
    } else {
      inlier_sum = kvq_add(inlier_sum, kvq_from_bits(xb, 23u, 8u));
      inliers_store_raw(base + i, xb);
    }
  }
  // The outliers' places in the dense output: the inliers' mean, rounded once to f32.
  let fill = kvq_to_bits(kvq_div(inlier_sum, kvq_from_uint(d - count)), 23u, 8u, KVQ_NEAREST);
  for (var j = 0u; j < count; j++) { inliers_store_raw(base + indices_get(r * count + j), fill); }`)}`;

const MERGE_SOURCE = `${SOFT_DOUBLE_WGSL}
// Index j of row r: a u8 (four to a word) or an i32.
fn index_at(r: u32, j: u32) -> i32 {
  let e = indices_elem(r, j);
  if (u_index_bytes() == 4u) { return bitcast<i32>(indices_raw(e)); }
  return i32((indices_raw(e >> 2u) >> ((e & 3u) * 8u)) & 0xffu);
}
${taskEntry(`
  if (task >= u_rows() * u_n()) { return; }
  let r = task / u_n();
  let i = task - r * u_n();
  var bits = dense_f32_bits(r, i);
  for (var j = 0u; j < u_count(); j++) {
    if (index_at(r, j) == i32(i)) { bits = values_f32_bits(r, j); }
  }
  out_store_raw(task, bits);`)}`;

const SIZE_UNIFORMS = ['rows', 'n', 'count'].map((name) => ({ name, type: 'u32' as const }));

function assertOneOf(dtype: string, allowed: readonly string[], what: string, where: string): void {
  if (!allowed.includes(dtype)) throw new UnsupportedDTypeError(`${where} (webgpu): ${what} must be ${allowed.join(' or ')}, got ${dtype}`);
}

export function registerOutlierWebGpuKernels(): void {
  registerKernel<'kvSplitOutliers', WebGpuBackend>('kvSplitOutliers', 'webgpu', (backend, [select, source], { count, center, valueDType, indexDType }) => {
    const where = 'kvSplitOutliers';
    assertFloatInput(select, where);
    assertFloatInput(source, where);
    const { split, rows, d } = emptyOutlierSplit(backend, select, { count, valueDType, indexDType }, `${where} (webgpu)`);
    const { indices, values, inliers } = split;
    if (rows === 0) return split;
    const scratch = backend.empty([rows * d * 2], 'u32');
    const atomic = (name: string, tensor: Tensor) => ({ binding: { name, dtype: 'u32' as const, access: 'atomic' as const }, tensor });
    launchRows(backend, where, {
      operands: [rowOperand('sel', select), rowOperand('src', source)],
      outputs: [
        atomic('indices', indices),
        atomic('values', values),
        { binding: { name: 'inliers', dtype: 'u32', access: 'write' }, tensor: inliers },
        { binding: { name: 'scratch', dtype: 'u32', access: 'words' }, tensor: scratch },
      ],
      uniforms: [...SIZE_UNIFORMS, { name: 'mean', type: 'u32' }, packedStore('indices').uniform, packedStore('values').uniform],
      values: { rows, n: d, count, mean: center === 'mean' ? 1 : 0, indices_width: storeWidth(indexDType), values_width: storeWidth(valueDType) },
      source: SPLIT_SOURCE,
      tasks: rows,
    });
    scratch.dispose();
    return split;
  });

  registerKernel<'kvMergeOutliers', WebGpuBackend>('kvMergeOutliers', 'webgpu', (backend, [dense, indices, values]) => {
    const where = 'kvMergeOutliers';
    assertFloatInput(dense, where);
    assertFloatInput(values, where);
    assertOneOf(indices.dtype, ['u8', 'i32'], 'the indices', where);
    const d = dense.shape[dense.rank - 1];
    const out = backend.empty(dense.shape, 'f32');
    if (out.size === 0) return out;
    launchRows(backend, where, {
      operands: [rowOperand('dense', dense), rowOperand('indices', indices), rowOperand('values', values)],
      outputs: [{ binding: { name: 'out', dtype: 'u32', access: 'write' }, tensor: out }],
      uniforms: [...SIZE_UNIFORMS, { name: 'index_bytes', type: 'u32' }],
      values: { rows: out.size / d, n: d, count: indices.shape[indices.rank - 1], index_bytes: indices.dtype === 'u8' ? 1 : 4 },
      source: MERGE_SOURCE,
      tasks: out.size,
    });
    return out;
  });
}
