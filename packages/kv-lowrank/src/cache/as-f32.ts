import { cast, type Tensor, type TensorScope } from '@kvkit/tensor-core';

/** `t` as f32 for the float math of the caches: itself when it already is, otherwise a copy released with `scope`. */
export function asF32(scope: TensorScope, t: Tensor): Tensor {
  return t.dtype === 'f32' ? t : scope.track(cast(t, 'f32'));
}
