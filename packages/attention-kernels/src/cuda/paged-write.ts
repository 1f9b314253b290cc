import { cast, InvalidConfigError, type Tensor } from '@kvkit/tensor-core';
import { arg, type CudaBackend, defineCudaModule, gridFor, rowMajor } from '@kvkit/tensor-core/cuda';
import source from './paged-write.cu';

export const pagedWriteModule = defineCudaModule({ name: 'kvkit-attention-paged-write', source });

const MOVE_THREADS = 128;

/** The pool tensors must be row-major views: the kernels write through them in place. */
function poolAddresses(backend: CudaBackend, pool: readonly Tensor[]): number[] {
  for (const t of pool) if (!t.isContiguous()) throw new InvalidConfigError('pagedWrite/pagedMove: the pool storage must be row-major (PagedKVPool allocates it so)');
  return pool.map((t) => backend.address(t));
}

/** `pagedWrite` on CUDA: rows of k, v, positions into their slots of the pool (in place). */
export function pagedWriteCuda(backend: CudaBackend, [poolKeys, poolValues, poolPositions, k, v, positions, slots]: readonly Tensor[]): void {
  const rows = slots.size;
  if (rows === 0) return;
  const d = poolKeys.shape[2];
  const dv = poolValues.shape[2];
  const made: Tensor[] = [];
  const staged = (t: Tensor, dtype = t.dtype): Tensor => {
    const typed = t.dtype === dtype ? t : made[made.push(cast(t, dtype)) - 1];
    return made[made.push(rowMajor(backend, typed)) - 1];
  };
  try {
    const [keys, values, pos] = poolAddresses(backend, [poolKeys, poolValues, poolPositions]);
    const [ks, vs, ps, ss] = [staged(k, poolKeys.dtype), staged(v, poolValues.dtype), staged(positions), staged(slots)];
    backend.launch(pagedWriteModule, `kv_paged_write_${poolKeys.dtype}`, { grid: gridFor(rows * (d + dv + 1), backend), block: 256 }, [
      arg.ptr(keys), arg.ptr(values), arg.ptr(pos),
      arg.ptr(backend.address(ks)), arg.ptr(backend.address(vs)), arg.ptr(backend.address(ps)), arg.ptr(backend.address(ss)),
      arg.i64(rows), arg.i32(d), arg.i32(dv),
    ]);
  } finally {
    for (const t of made) t.dispose();
  }
}

/** `pagedMove` on CUDA: slot from[i] → slot to[i], in order (one block, a barrier per copy). */
export function pagedMoveCuda(backend: CudaBackend, [poolKeys, poolValues, poolPositions, from, to]: readonly Tensor[]): void {
  if (from.size === 0) return;
  const [keys, values, pos] = poolAddresses(backend, [poolKeys, poolValues, poolPositions]);
  const [f, t] = [rowMajor(backend, from), rowMajor(backend, to)];
  try {
    backend.launch(pagedWriteModule, `kv_paged_move_${poolKeys.dtype}`, { grid: 1, block: MOVE_THREADS }, [
      arg.ptr(keys), arg.ptr(values), arg.ptr(pos), arg.ptr(backend.address(f)), arg.ptr(backend.address(t)),
      arg.i32(from.size), arg.i32(poolKeys.shape[2]), arg.i32(poolValues.shape[2]),
    ]);
  } finally {
    f.dispose();
    t.dispose();
  }
}
