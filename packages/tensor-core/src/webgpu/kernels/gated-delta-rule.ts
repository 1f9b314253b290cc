import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { withContiguous } from './layout.js';

/** Invocations per workgroup: each owns one (head, value column) of the state. */
const WORKGROUP = 64;

/**
 * gatedDeltaRule: an invocation per (head, value column j) walks the rows in order. A column of
 * the state, S[h, :, j], is all that column's update and read need (Sᵀk and Sᵀq are per column),
 * so no invocation waits on another; neighbouring invocations take neighbouring columns, so each
 * pass over the state reads it in whole rows. f32 throughout (the state read and written in the
 * state output, first copied from the input; g is f32); the output is stored in q's dtype. Views are
 * copied to row-major first.
 */
export function gatedDeltaRuleTensor(backend: WebGpuBackend, inputs: readonly Tensor[]): [Tensor, Tensor] {
  return withContiguous(backend, inputs, (staged) => {
    const [q, k, v, g, beta, state] = staged;
    const [n, keyHeads, dk] = q.shape;
    const [, heads, dv] = v.shape;
    const output = backend.empty([n, heads, dv], q.dtype);
    const next = backend.empty([heads, dk, dv], 'f32');
    const columns = heads * dv;
    if (columns * dk === 0) return [output, next];
    const program = backend.program(`gatedDeltaRule:${q.dtype}`, () => ({
      bindings: [
        { name: 'q', dtype: q.dtype, access: 'read' },
        { name: 'k', dtype: q.dtype, access: 'read' },
        { name: 'v', dtype: q.dtype, access: 'read' },
        { name: 'g', dtype: 'f32', access: 'read' },
        { name: 'beta', dtype: q.dtype, access: 'read' },
        { name: 'st', dtype: 'f32', access: 'read' },
        { name: 'o', dtype: q.dtype, access: 'write' },
        { name: 'next', dtype: 'f32', access: 'write' },
      ],
      uniforms: [
        { name: 'n', type: 'u32' },
        { name: 'key_heads', type: 'u32' },
        { name: 'heads', type: 'u32' },
        { name: 'dk', type: 'u32' },
        { name: 'dv', type: 'u32' },
        ...['q', 'k', 'v', 'g', 'beta', 'st'].map((name) => ({ name: `${name}_offset`, type: 'u32' as const })),
      ],
      code: `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let column = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (column >= u_heads() * u_dv()) { return; }
  let h = column / u_dv();
  let j = column % u_dv();
  let kh = h / (u_heads() / u_key_heads());
  let base = h * u_dk() * u_dv() + j;
  for (var i = 0u; i < u_dk(); i = i + 1u) { next_store(base + i * u_dv(), st_load(u_st_offset() + base + i * u_dv())); }
  for (var t = 0u; t < u_n(); t = t + 1u) {
    let th = t * u_heads() + h;
    let decay = exp(g_load(u_g_offset() + th));
    let key = (t * u_key_heads() + kh) * u_dk();
    var recalled = 0.0;
    for (var i = 0u; i < u_dk(); i = i + 1u) {
      let s = decay * next_load(base + i * u_dv());
      next_store(base + i * u_dv(), s);
      recalled = recalled + s * f32(k_load(u_k_offset() + key + i));
    }
    let delta = f32(beta_load(u_beta_offset() + th)) * (f32(v_load(u_v_offset() + th * u_dv() + j)) - recalled);
    var read = 0.0;
    for (var i = 0u; i < u_dk(); i = i + 1u) {
      let s = next_load(base + i * u_dv()) + f32(k_load(u_k_offset() + key + i)) * delta;
      next_store(base + i * u_dv(), s);
      read = read + s * f32(q_load(u_q_offset() + key + i));
    }
    o_store(th * u_dv() + j, read);
  }
}`,
    }));
    backend.dispatch(
      program,
      [q, k, v, g, beta, state, output, next],
      {
        n,
        key_heads: keyHeads,
        heads,
        dk,
        dv,
        q_offset: q.offset,
        k_offset: k.offset,
        v_offset: v.offset,
        g_offset: g.offset,
        beta_offset: beta.offset,
        st_offset: state.offset,
      },
      backend.grid(Math.ceil(columns / WORKGROUP)),
    );
    return [output, next];
  });
}
