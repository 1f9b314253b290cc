import type { IndexedMatmulAttrs } from '../../ops/indexed-matmul.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { INDEX_ACCESS, indexUniforms } from './indexing.js';

/** Output columns per workgroup (one row), and invocations sharing each column's dot product. */
const COLUMNS = 8;
const LANES = 32;
const WORKGROUP = COLUMNS * LANES;

/**
 * indexedMatmul: out[r, j] = Σ_p x[r, p] · w[indices[r], j, p], the index read on the device.
 *
 * A workgroup computes COLUMNS output columns of one row (a decode step is a few rows, so the
 * work spreads over n): the row of x is staged through workgroup memory WORKGROUP elements at a
 * time, and LANES invocations per column walk its weight row along k, where HF weights are
 * contiguous, so the reads coalesce. Prefill rows each re-read their matrix (from cache when rows
 * share one). Every operand is addressed through its strides, so views need no copy. Accumulation
 * is f32 in every dtype, as in matmul. A row whose index is outside the stack reads no weights and
 * comes out as zeros (the op checks indices only on synchronous backends).
 */
export function indexedMatmulTensor(backend: WebGpuBackend, x: Tensor, weights: Tensor, indices: Tensor, attrs: IndexedMatmulAttrs): Tensor {
  const { rows, n, k, count } = attrs;
  const dtype = x.dtype;
  if (k === 0) return backend.zeros([rows, n], dtype); // empty sums
  const out = backend.empty([rows, n], dtype);
  if (rows === 0 || n === 0) return out;
  const tiles = Math.ceil(n / COLUMNS);
  const idx = indexUniforms(indices);
  const program = backend.program(`indexedMatmul:${dtype}:${indices.dtype}`, () => ({
    bindings: [
      { name: 'x', dtype, access: 'read' },
      { name: 'w', dtype, access: 'read' },
      { name: 'idx', dtype: indices.dtype, access: 'read' },
      { name: 'out', dtype, access: 'write' },
    ],
    uniforms: [
      { name: 'rows', type: 'u32' },
      { name: 'n', type: 'u32' },
      { name: 'k', type: 'u32' },
      { name: 'count', type: 'u32' },
      { name: 'tiles', type: 'u32' },
      { name: 'x_offset', type: 'u32' },
      { name: 'x_row', type: 'u32' },
      { name: 'x_col', type: 'u32' },
      { name: 'w_offset', type: 'u32' },
      { name: 'w_mat', type: 'u32' },
      { name: 'w_row', type: 'u32' },
      { name: 'w_col', type: 'u32' },
      ...idx.fields,
    ],
    code: `${INDEX_ACCESS}
var<workgroup> xs: array<f32, ${WORKGROUP}>;
var<workgroup> partial: array<f32, ${WORKGROUP}>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= u_rows() * u_tiles()) { return; }
  let row = g / u_tiles();
  let col = lid / ${LANES}u;
  let lane = lid % ${LANES}u;
  let j = (g % u_tiles()) * ${COLUMNS}u + col;
  let e = idx_get(row);
  let valid = e >= 0i && u32(e) < u_count();
  // Invocations of columns past n, or of a row with a bad index, still stage x and meet the barriers.
  let live = valid && j < u_n();
  let xb = u_x_offset() + row * u_x_row();
  let wb = u_w_offset() + u32(max(e, 0i)) * u_w_mat() + j * u_w_row();
  var acc = 0.0;
  for (var k0 = 0u; k0 < u_k(); k0 = k0 + ${WORKGROUP}u) {
    let p = k0 + lid;
    var v = 0.0;
    if (p < u_k()) { v = x_load(xb + p * u_x_col()); }
    xs[lid] = v;
    workgroupBarrier();
    if (live) {
      let chunk = min(${WORKGROUP}u, u_k() - k0);
      for (var q = lane; q < chunk; q = q + ${LANES}u) { acc = acc + xs[q] * w_load(wb + (k0 + q) * u_w_col()); }
    }
    workgroupBarrier();
  }
  partial[lid] = acc;
  workgroupBarrier();
  if (lane == 0u && j < u_n()) {
    var s = 0.0;
    for (var q = 0u; q < ${LANES}u; q = q + 1u) { s = s + partial[lid + q]; }
    out_store(row * u_n() + j, s);
  }
}`,
  }));
  const [s0, s1, s2] = weights.strides;
  backend.dispatch(
    program,
    [x, weights, indices, out],
    {
      rows,
      n,
      k,
      count,
      tiles,
      x_offset: x.offset,
      x_row: x.strides[0],
      x_col: x.strides[1],
      w_offset: weights.offset,
      w_mat: s0,
      w_row: s1,
      w_col: s2,
      ...idx.values,
    },
    backend.grid(rows * tiles),
  );
  return out;
}
