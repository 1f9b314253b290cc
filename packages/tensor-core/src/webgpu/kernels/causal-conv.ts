import type { Tensor } from '../../tensor.js';
import type { WebGpuBackend } from '../backend.js';
import { runMap } from './map.js';

/**
 * causalConv1d: one invocation per output element (row t, channel c) sums window[t + j, c] ·
 * weight[c, j] over the taps in f32, then adds the bias. The operands are addressed at tap 0 over
 * the output shape (window at row t, weight and bias broadcast over rows); the other taps step by
 * the window's row stride and the weight's tap stride, so any views are read in place.
 */
export function causalConvTensor(backend: WebGpuBackend, window: Tensor, weight: Tensor, bias: Tensor | undefined): Tensor {
  const [rows, channels] = window.shape;
  const taps = weight.shape[1];
  const n = rows - taps + 1;
  return runMap(backend, {
    key: bias ? 'causalConv1d:bias' : 'causalConv1d',
    shape: [n, channels],
    operands: [
      { name: 'x', tensor: window, strides: window.strides },
      { name: 'w', tensor: weight, strides: [0, weight.strides[0]] },
      ...(bias ? [{ name: 'b', tensor: bias, strides: [0, bias.strides[0]] }] : []),
    ],
    uniforms: {
      fields: [
        { name: 'taps', type: 'u32' },
        { name: 'row_stride', type: 'u32' },
        { name: 'tap_stride', type: 'u32' },
      ],
      values: { taps, row_stride: window.strides[0], tap_stride: weight.strides[1] },
    },
    dtype: window.dtype,
    value: `fn value(i: u32) -> f32 {
  let x0 = x_index(i);
  let w0 = w_index(i);
  var sum = 0.0;
  for (var j = 0u; j < u_taps(); j = j + 1u) {
    sum = sum + f32(x_load(x0 + j * u_row_stride())) * f32(w_load(w0 + j * u_tap_stride()));
  }
  return sum${bias ? ' + f32(b_load(b_index(i)))' : ''};
}`,
  });
}
