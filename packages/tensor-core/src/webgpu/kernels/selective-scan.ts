import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { withContiguous } from './layout.js';

/** Invocations sharing one (head, channel) pair's state entries. */
const LANES = 64;

/**
 * selectiveScan: a workgroup per (head, channel) pair walks the rows in order; its LANES
 * invocations each update every LANES-th state entry (read and written in the state output, first
 * copied from the input) and the row's output is their partial sums reduced through workgroup
 * memory. The decay is the head's (a [heads]) or each state entry's (a [heads, dState], Mamba-1).
 * f32 throughout; y is stored in x's dtype. Views are copied to row-major first.
 */
export function selectiveScanTensor(backend: WebGpuBackend, inputs: readonly Tensor[]): [Tensor, Tensor] {
  return withContiguous(backend, inputs, (staged) => {
    const [x, dt, a, b, c, state] = staged;
    const [n, heads, headDim] = x.shape;
    const [, groups, dState] = b.shape;
    const y = backend.empty([n, heads, headDim], x.dtype);
    const next = backend.empty([heads, headDim, dState], 'f32');
    const pairs = heads * headDim;
    if (pairs * dState === 0) return [y, next];
    const program = backend.program(`selectiveScan:${x.dtype}`, () => ({
      bindings: [
        { name: 'x', dtype: x.dtype, access: 'read' },
        { name: 'dt', dtype: x.dtype, access: 'read' },
        { name: 'a', dtype: 'f32', access: 'read' },
        { name: 'b', dtype: x.dtype, access: 'read' },
        { name: 'c', dtype: x.dtype, access: 'read' },
        { name: 'st', dtype: 'f32', access: 'read' },
        { name: 'y', dtype: x.dtype, access: 'write' },
        { name: 'next', dtype: 'f32', access: 'write' },
      ],
      uniforms: [
        { name: 'n', type: 'u32' },
        { name: 'heads', type: 'u32' },
        { name: 'head_dim', type: 'u32' },
        { name: 'groups', type: 'u32' },
        { name: 'd_state', type: 'u32' },
        { name: 'per_state', type: 'u32' },
        ...['x', 'dt', 'a', 'b', 'c', 'st'].map((name) => ({ name: `${name}_offset`, type: 'u32' as const })),
      ],
      code: `var<workgroup> partial: array<f32, ${LANES}>;
@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let pair = wid.x + wid.y * nwg.x;
  if (pair >= u_heads() * u_head_dim()) { return; }
  let h = pair / u_head_dim();
  let p = pair % u_head_dim();
  let g = h / (u_heads() / u_groups());
  let base = pair * u_d_state();
  for (var s = lid; s < u_d_state(); s = s + ${LANES}u) { next_store(base + s, st_load(u_st_offset() + base + s)); }
  let rates = u_a_offset() + h * select(1u, u_d_state(), u_per_state() == 1u);
  for (var t = 0u; t < u_n(); t = t + 1u) {
    let step = f32(dt_load(u_dt_offset() + t * u_heads() + h));
    var decay = exp(step * a_load(rates));
    let drive = step * f32(x_load(u_x_offset() + (t * u_heads() + h) * u_head_dim() + p));
    let bc = (t * u_groups() + g) * u_d_state();
    var sum = 0.0;
    for (var s = lid; s < u_d_state(); s = s + ${LANES}u) {
      if (u_per_state() == 1u) { decay = exp(step * a_load(rates + s)); }
      let v = decay * next_load(base + s) + drive * f32(b_load(u_b_offset() + bc + s));
      next_store(base + s, v);
      sum = sum + v * f32(c_load(u_c_offset() + bc + s));
    }
    partial[lid] = sum;
    workgroupBarrier();
    for (var width = ${LANES / 2}u; width > 0u; width = width / 2u) {
      if (lid < width) { partial[lid] = partial[lid] + partial[lid + width]; }
      workgroupBarrier();
    }
    if (lid == 0u) { y_store((t * u_heads() + h) * u_head_dim() + p, partial[0]); }
    workgroupBarrier();
  }
}`,
    }));
    backend.dispatch(
      program,
      [x, dt, a, b, c, state, y, next],
      {
        n,
        heads,
        head_dim: headDim,
        groups,
        d_state: dState,
        per_state: a.rank === 2 ? 1 : 0,
        x_offset: x.offset,
        dt_offset: dt.offset,
        a_offset: a.offset,
        b_offset: b.offset,
        c_offset: c.offset,
        st_offset: state.offset,
      },
      backend.grid(pairs),
    );
    return [y, next];
  });
}
