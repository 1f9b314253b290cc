import { contiguous, type Tensor } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';

const WORKGROUP = 128;

/**
 * `poolKeyScores` in WGSL: max or average pooling of every row along its last axis (odd window,
 * stride 1, clipped at the ends; an average divides by the full window; max propagates NaN).
 */
export function poolKeyScoresWebGpu(backend: WebGpuBackend, scores: Tensor, { kernelSize, mode }: { kernelSize: number; mode: 'max' | 'avg' }): Tensor {
  const n = scores.shape[scores.rank - 1] ?? 0;
  const out = backend.empty(scores.shape, scores.dtype);
  if (scores.size === 0) return out;
  const x = scores.isContiguous() ? scores : contiguous(scores);
  try {
    const program = backend.program(`attention-kernels:pool-key-scores:${scores.dtype}:${mode}`, () => ({
      bindings: [
        { name: 'x', dtype: scores.dtype, access: 'read' },
        { name: 'out', dtype: scores.dtype, access: 'write' },
      ],
      uniforms: ['size', 'n', 'half', 'x_offset'].map((name) => ({ name, type: 'u32' as const })),
      code: `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  if (e >= u_size()) { return; }
  let j = e % u_n();
  let base = e - j;
  let lo = select(j - u_half(), 0u, j < u_half());
  let hi = min(u_n() - 1u, j + u_half());
  var acc = ${mode === 'avg' ? '0.0' : '-inf_f32()'};
  for (var t = lo; t <= hi; t = t + 1u) {
    let v = x_load(u_x_offset() + base + t);
    ${mode === 'avg' ? 'acc = acc + v;' : 'acc = nan_max(acc, v);'}
  }
  out_store(e, ${mode === 'avg' ? 'acc / f32(2u * u_half() + 1u)' : 'acc'});
}`,
    }));
    backend.dispatch(program, [x, out], { size: scores.size, n, half: (kernelSize - 1) / 2, x_offset: x.offset }, backend.grid(Math.ceil(scores.size / WORKGROUP)));
  } finally {
    if (x !== scores) x.dispose();
  }
  return out;
}
