import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { computeType, rawAlias } from '../wgsl/dtypes.js';
import { lastAxisFunction, lastAxisUniforms, lastAxisValues } from '../wgsl/strided.js';
import { runMap } from './map.js';

const WORKGROUP = 256;

/**
 * Top-k along the last axis by a bitonic sort of every row (padded to a power of two) on
 * (order key, index) pairs in global memory, one dispatch per sorting step; then the first k
 * entries are gathered. Order keys are u32 whose unsigned order is the numeric order (NaN above
 * +∞, −0 = +0), complemented for `largest: false`; ties keep the lower index first — the CPU's order.
 */
export function topkTensor(backend: WebGpuBackend, x: Tensor, k: number, largest: boolean): [Tensor, Tensor] {
  const n = x.shape[x.rank - 1];
  const rows = n === 0 ? 0 : x.size / n;
  const shape = [...x.shape.slice(0, -1), k];
  if (rows === 0 || k === 0) return [backend.empty(shape, x.dtype), backend.empty(shape, 'i32')];
  const width = 2 ** Math.ceil(Math.log2(Math.max(n, 2)));
  const keys = backend.empty([rows, width], 'u32');
  const order = backend.empty([rows, width], 'i32');
  try {
    initialize(backend, x, keys, order, n, width, largest);
    const step = backend.program('topk:step', () => ({
      bindings: [
        { name: 'keys', dtype: 'u32', access: 'write' },
        { name: 'idx', dtype: 'u32', access: 'write' },
      ],
      uniforms: [
        { name: 'pairs', type: 'u32' },
        { name: 'width', type: 'u32' },
        { name: 'size', type: 'u32' },
        { name: 'stride', type: 'u32' },
      ],
      code: `// (ka, ia) comes before (kb, ib): larger key first, then lower index; padding (index ~0) last.
fn before(ka: u32, ia: u32, kb: u32, ib: u32) -> bool {
  if (ia == 0xffffffffu) { return false; }
  if (ib == 0xffffffffu) { return true; }
  if (ka != kb) { return ka > kb; }
  return ia < ib;
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (g >= u_pairs()) { return; }
  let pairs_per_row = u_width() / 2u;
  let row = g / pairs_per_row;
  let q = g % pairs_per_row;
  let s = u_stride();
  let lo = (q / s) * 2u * s + (q % s);
  let a = row * u_width() + lo;
  let b = a + s;
  let ka = keys_load(a);
  let kb = keys_load(b);
  let ia = idx_load(a);
  let ib = idx_load(b);
  let forward = (lo & u_size()) == 0u;
  if (select(before(ka, ia, kb, ib), before(kb, ib, ka, ia), forward)) {
    keys_store(a, kb);
    keys_store(b, ka);
    idx_store(a, ib);
    idx_store(b, ia);
  }
}`,
    }));
    const pairs = (rows * width) / 2;
    for (let size = 2; size <= width; size *= 2) {
      for (let stride = size / 2; stride >= 1; stride /= 2) {
        backend.dispatch(step, [keys, order], { pairs, width, size, stride }, backend.grid(Math.ceil(pairs / WORKGROUP)));
      }
    }
    return gather(backend, x, order, shape, k, width);
  } finally {
    keys.dispose();
    order.dispose();
  }
}

function initialize(backend: WebGpuBackend, x: Tensor, keys: Tensor, order: Tensor, n: number, width: number, largest: boolean): void {
  const type = computeType(x.dtype);
  const key = type === 'f32' ? 'order_key_f32(v)' : type === 'i32' ? '(bitcast<u32>(v) ^ 0x80000000u)' : 'v';
  const program = backend.program(`topk:init:${x.dtype}:r${x.rank}:${largest ? 'largest' : 'smallest'}`, () => ({
    bindings: [
      { name: 'x', dtype: x.dtype, access: 'read' },
      { name: 'keys', dtype: 'u32', access: 'write' },
      { name: 'idx', dtype: 'u32', access: 'write' },
    ],
    uniforms: [{ name: 'total', type: 'u32' }, { name: 'n', type: 'u32' }, { name: 'width', type: 'u32' }, ...lastAxisUniforms('x', x.rank)],
    code: `${lastAxisFunction('x', x.rank)}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (g >= u_total()) { return; }
  let row = g / u_width();
  let c = g % u_width();
  if (c >= u_n()) { keys_store(g, 0u); idx_store(g, 0xffffffffu); return; }
  let v = x_load(x_elem(row, c));
  keys_store(g, ${largest ? key : `~${key}`});
  idx_store(g, c);
}`,
  }));
  const total = keys.size;
  backend.dispatch(program, [x, keys, order], { total, n, width, ...lastAxisValues('x', x.shape, x.strides, x.offset) }, backend.grid(Math.ceil(total / WORKGROUP)));
}

function gather(backend: WebGpuBackend, x: Tensor, order: Tensor, shape: number[], k: number, width: number): [Tensor, Tensor] {
  const common = {
    shape,
    operands: [],
    uniforms: {
      fields: [{ name: 'k', type: 'u32' as const }, { name: 'width', type: 'u32' as const }, ...lastAxisUniforms('x', x.rank)],
      values: { k, width, ...lastAxisValues('x', x.shape, x.strides, x.offset) },
    },
  };
  const slot = 'fn slot(i: u32) -> u32 { return (i / u_k()) * u_width() + i % u_k(); }';
  const values = runMap(backend, {
    ...common,
    key: `topk:values:r${x.rank}`,
    extra: [
      { spec: { name: 'x', dtype: rawAlias(x.dtype), access: 'read' }, buffer: x },
      { spec: { name: 'order', dtype: 'i32', access: 'read' }, buffer: order },
    ],
    dtype: x.dtype,
    raw: true,
    value: `${lastAxisFunction('x', x.rank)}
${slot}
fn value(i: u32) -> u32 { return x_raw(x_elem(i / u_k(), u32(order_load(slot(i))))); }`,
  });
  const indices = runMap(backend, {
    ...common,
    key: 'topk:indices',
    extra: [{ spec: { name: 'order', dtype: 'i32', access: 'read' }, buffer: order }],
    dtype: 'i32',
    value: `${slot}
fn value(i: u32) -> i32 { return order_load(slot(i)); }`,
  });
  return [values, indices];
}
