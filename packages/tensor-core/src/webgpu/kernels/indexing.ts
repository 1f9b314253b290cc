import { sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { STATUS, STATUS_WGSL, statusBinding } from '../status-counters.js';
import { computeType, rawAlias } from '../wgsl/dtypes.js';
import { substitutedIndexFunction } from '../wgsl/strided.js';
import type { UniformField, UniformValues } from '../wgsl/uniforms.js';
import { fillTensor } from './layout.js';
import { runMap } from './map.js';

/** Index tensors are 1-D i32/u32 views: `idx_get(q)` reads entry q as i32 (u32 above 2^31 turn negative: out of range). */
export const INDEX_ACCESS = `fn idx_get(q: u32) -> i32 { return i32(idx_load(u_idx_offset() + q * u_idx_stride())); }`;

export function indexUniforms(indices: Tensor): { fields: UniformField[]; values: UniformValues } {
  return {
    fields: [
      { name: 'idx_offset', type: 'u32' },
      { name: 'idx_stride', type: 'u32' },
    ],
    values: { idx_offset: indices.offset, idx_stride: indices.strides[0] },
  };
}

/** Uniforms addressing `t` by output positions (uniform `oshape`) with the `axis` coordinate substituted. */
function substituted(name: string, t: Tensor): { fields: UniformField[]; values: UniformValues; code: string } {
  const rank = t.rank;
  return {
    fields: [
      { name: `${name}_offset`, type: 'u32' },
      { name: `${name}_strides`, type: 'u32', length: rank },
    ],
    values: { [`${name}_offset`]: t.offset, [`${name}_strides`]: t.strides },
    code: substitutedIndexFunction(`${name}_sub`, rank, 'oshape', `${name}_strides`, `u_${name}_offset()`),
  };
}

/** x's slices at `indices` along `axis`; an index out of range yields zeros and is reported at the next read. */
export function gatherTensor(backend: WebGpuBackend, x: Tensor, indices: Tensor, axis: number): Tensor {
  const shape = x.shape.map((d, i) => (i === axis ? indices.shape[0] : d));
  const src = substituted('x', x);
  const idx = indexUniforms(indices);
  return runMap(backend, {
    key: `gather:r${x.rank}`,
    shape,
    operands: [],
    extra: [
      { spec: { name: 'x', dtype: rawAlias(x.dtype), access: 'read' }, buffer: x },
      { spec: { name: 'idx', dtype: indices.dtype, access: 'read' }, buffer: indices },
      statusBinding(backend),
    ],
    uniforms: {
      fields: [
        { name: 'axis', type: 'u32' },
        { name: 'axis_len', type: 'u32' },
        { name: 'inner', type: 'u32' },
        { name: 'oshape', type: 'u32', length: x.rank },
        ...src.fields,
        ...idx.fields,
      ],
      values: { axis, axis_len: x.shape[axis], inner: sizeOf(x.shape.slice(axis + 1)), oshape: shape, ...src.values, ...idx.values },
    },
    dtype: x.dtype,
    raw: true,
    value: `${STATUS_WGSL}
${INDEX_ACCESS}
${src.code}
fn value(i: u32) -> u32 {
  let j = idx_get((i / u_inner()) % u_oshape(u_axis()));
  if (j < 0i || u32(j) >= u_axis_len()) { status_report(${STATUS.gatherIndex}u); return 0u; }
  return x_raw(x_sub(i, u32(j)));
}`,
  });
}

const WORKGROUP = 256;

/**
 * A copy of x with the slices at `indices` along `axis` replaced by (or increased by) `updates`.
 * Deterministic without float atomics: a first pass links, per target slice, the update entries
 * that hit it (atomic exchange builds the lists); the copy pass then takes the highest entry
 * ('replace': the last update wins, as on the CPU) or sums them all ('add').
 */
export function scatterTensor(backend: WebGpuBackend, x: Tensor, indices: Tensor, updates: Tensor, axis: number, mode: 'replace' | 'add'): Tensor {
  const length = x.shape[axis];
  const count = indices.shape[0];
  const head = fillTensor(backend, [Math.max(length, 1)], 'i32', -1);
  const next = backend.empty([Math.max(count, 1)], 'i32');
  const idx = indexUniforms(indices);
  try {
    const link = backend.program(`scatterLinks:${indices.dtype}`, () => ({
      bindings: [
        { name: 'idx', dtype: indices.dtype, access: 'read' },
        { name: 'head', dtype: 'i32', access: 'atomic' },
        { name: 'next', dtype: 'i32', access: 'write' },
        { name: 'status', dtype: 'u32', access: 'words' },
      ],
      uniforms: [{ name: 'count', type: 'u32' }, { name: 'len', type: 'u32' }, ...idx.fields],
      code: `${STATUS_WGSL}
${INDEX_ACCESS}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let q = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (q >= u_count()) { return; }
  let j = idx_get(q);
  if (j < 0i || u32(j) >= u_len()) { status_report(${STATUS.scatterIndex}u); next_store(q, -1i); return; }
  next_store(q, atomicExchange(&head[u32(j)], i32(q)));
}`,
    }));
    backend.dispatch(link, [indices, head, next, backend.statusStorage], { count, len: length, ...idx.values }, backend.grid(Math.ceil(count / WORKGROUP)));
    const upd = substituted('upd', updates);
    const replace = mode === 'replace';
    return runMap(backend, {
      key: `scatter:${mode}:r${x.rank}:${updates.dtype}`,
      shape: x.shape,
      operands: [{ name: 'x', tensor: x }],
      extra: [
        { spec: { name: 'upd', dtype: replace ? rawAlias(updates.dtype) : updates.dtype, access: 'read' }, buffer: updates },
        { spec: { name: 'head', dtype: 'i32', access: 'read' }, buffer: head },
        { spec: { name: 'next', dtype: 'i32', access: 'read' }, buffer: next },
      ],
      uniforms: {
        fields: [
          { name: 'axis', type: 'u32' },
          { name: 'entries', type: 'u32' },
          { name: 'inner', type: 'u32' },
          { name: 'len', type: 'u32' },
          { name: 'oshape', type: 'u32', length: x.rank },
          ...upd.fields,
        ],
        values: { axis, entries: count, inner: sizeOf(x.shape.slice(axis + 1)), len: length, oshape: x.shape, ...upd.values },
      },
      dtype: x.dtype,
      raw: replace,
      value: `${upd.code}
fn value(i: u32) -> ${replace ? 'u32' : computeType(x.dtype)} {
  var e = head_load((i / u_inner()) % u_len());
  ${
    replace
      ? `var last = -1i;
  for (var hop = 0u; hop < u_entries() && e >= 0i; hop = hop + 1u) { last = max(last, e); e = next_load(u32(e)); }
  if (last >= 0i) { return upd_raw(upd_sub(i, u32(last))); }
  return x_raw(x_index(i));`
      : `var v = x_load(x_index(i));
  for (var hop = 0u; hop < u_entries() && e >= 0i; hop = hop + 1u) { v = v + upd_load(upd_sub(i, u32(e))); e = next_load(u32(e)); }
  return v;`
  }
}`,
    });
  } finally {
    head.dispose();
    next.dispose();
  }
}
