import type { RopeLayout } from '../../rope-config.js';
import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { runMap } from './map.js';

/**
 * Rotary embedding of x [..., n, d] at `positions` (i32/u32 [n]) with `invFreq` (f32 [r/2]); the
 * first r channels rotate, the rest pass through. The angle is position · θ rounded to f32 (as HF
 * and the CPU backend compute it); sin/cos are accurate to ~1 f32 ulp up to |angle| ≈ 1e5
 * (`sin_cos_acc`), where WGSL's built-ins only promise an absolute error on [-π, π].
 */
export function ropeTensor(backend: WebGpuBackend, x: Tensor, positions: Tensor, invFreq: Tensor, layout: RopeLayout): Tensor {
  const [n, d] = x.shape.slice(-2);
  const half = invFreq.shape[0];
  const partner = layout === 'half' ? { first: 'c < rh', f: 'select(c - rh, c, first)', delta: 'rh' } : { first: 'c % 2u == 0u', f: 'c / 2u', delta: '1u' };
  return runMap(backend, {
    key: `rope:${layout}`,
    shape: x.shape,
    operands: [{ name: 'x', tensor: x }],
    extra: [
      { spec: { name: 'pos', dtype: positions.dtype, access: 'read' }, buffer: positions },
      { spec: { name: 'freq', dtype: 'f32', access: 'read' }, buffer: invFreq },
    ],
    uniforms: {
      fields: [
        { name: 'n', type: 'u32' },
        { name: 'd', type: 'u32' },
        { name: 'rotated_half', type: 'u32' },
        { name: 'pos_offset', type: 'u32' },
        { name: 'pos_stride', type: 'u32' },
        { name: 'freq_offset', type: 'u32' },
        { name: 'freq_stride', type: 'u32' },
      ],
      values: {
        n,
        d,
        rotated_half: half,
        pos_offset: positions.offset,
        pos_stride: positions.strides[0],
        freq_offset: invFreq.offset,
        freq_stride: invFreq.strides[0],
      },
    },
    dtype: x.dtype,
    value: `fn value(i: u32) -> f32 {
  let d = u_d();
  let rh = u_rotated_half();
  let c = i % d;
  let v = x_load(x_index(i));
  if (c >= 2u * rh) { return v; }
  let t = (i / d) % u_n();
  let first = ${partner.first};
  let f = ${partner.f};
  let angle = f32(pos_load(u_pos_offset() + t * u_pos_stride())) * freq_load(u_freq_offset() + f * u_freq_stride());
  let sc = sin_cos_acc(angle);
  let other = x_load(x_index(select(i - ${partner.delta}, i + ${partner.delta}, first)));
  return select(v * sc.y + other * sc.x, v * sc.y - other * sc.x, first);
}`,
  });
}
