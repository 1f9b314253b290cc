import { type Tensor, cast } from '@kvkit/tensor-core';

/** Temporaries of one cache operation, released together when it ends (whether it succeeds or throws). */
export class TensorScope {
  private readonly tensors: Tensor[] = [];

  /** Registers `t` for release and returns it. */
  track<T extends Tensor>(t: T): T {
    this.tensors.push(t);
    return t;
  }

  /** `t` as f32: itself when it already is, otherwise a tracked copy. */
  f32(t: Tensor): Tensor {
    return t.dtype === 'f32' ? t : this.track(cast(t, 'f32'));
  }

  dispose(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.length = 0;
  }
}
