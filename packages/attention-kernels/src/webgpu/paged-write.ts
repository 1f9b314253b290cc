import { cast, contiguous, InvalidConfigError, type Tensor } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';

const WORKGROUP = 128;

function assertRowMajor(pool: readonly Tensor[]): void {
  for (const t of pool) if (!t.isContiguous()) throw new InvalidConfigError('pagedWrite/pagedMove: the pool storage must be row-major (PagedKVPool allocates it so)');
}

const POOL_BINDINGS = (dtype: Tensor['dtype']) =>
  [
    { name: 'keys', dtype, access: 'write' },
    { name: 'vals', dtype, access: 'write' },
    { name: 'poss', dtype: 'i32', access: 'write' },
  ] as const;

/**
 * `pagedWrite` in WGSL: token row i of k, v, positions goes to slot slots[i] of the pool, in place
 * (slots are distinct within a call, as the pool hands them out); one invocation per element.
 */
export function pagedWriteWebGpu(backend: WebGpuBackend, [poolKeys, poolValues, poolPositions, k, v, positions, slots]: readonly Tensor[]): void {
  const rows = slots.size;
  if (rows === 0) return;
  assertRowMajor([poolKeys, poolValues, poolPositions]);
  const d = poolKeys.shape[2];
  const dv = poolValues.shape[2];
  const made: Tensor[] = [];
  const staged = (t: Tensor, dtype = t.dtype): Tensor => {
    let x = t.dtype === dtype ? t : made[made.push(cast(t, dtype)) - 1];
    if (!x.isContiguous()) x = made[made.push(contiguous(x)) - 1];
    return x;
  };
  try {
    const inputs = [staged(k, poolKeys.dtype), staged(v, poolKeys.dtype), staged(positions), staged(slots)];
    const program = backend.program(`attention-kernels:paged-write:${poolKeys.dtype}`, () => ({
      bindings: [
        ...POOL_BINDINGS(poolKeys.dtype),
        { name: 'k', dtype: poolKeys.dtype, access: 'read' },
        { name: 'v', dtype: poolKeys.dtype, access: 'read' },
        { name: 'pos', dtype: 'i32', access: 'read' },
        { name: 'slots', dtype: 'i32', access: 'read' },
      ],
      uniforms: ['rows', 'd', 'dv', 'keys_offset', 'vals_offset', 'poss_offset', 'k_offset', 'v_offset', 'pos_offset', 'slots_offset'].map((name) => ({ name, type: 'u32' as const })),
      code: `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * ${WORKGROUP}u + lid;
  let width = u_d() + u_dv() + 1u;
  if (e >= u_rows() * width) { return; }
  let i = e / width;
  let c = e % width;
  let slot = u32(slots_load(u_slots_offset() + i));
  if (c < u_d()) {
    keys_store_raw(u_keys_offset() + slot * u_d() + c, k_raw(u_k_offset() + i * u_d() + c));
  } else if (c < u_d() + u_dv()) {
    vals_store_raw(u_vals_offset() + slot * u_dv() + c - u_d(), v_raw(u_v_offset() + i * u_dv() + c - u_d()));
  } else {
    poss_store(u_poss_offset() + slot, pos_load(u_pos_offset() + i));
  }
}`,
    }));
    const [ks, vs, ps, ss] = inputs;
    backend.dispatch(program, [poolKeys, poolValues, poolPositions, ...inputs], {
      rows, d, dv,
      keys_offset: poolKeys.offset, vals_offset: poolValues.offset, poss_offset: poolPositions.offset,
      k_offset: ks.offset, v_offset: vs.offset, pos_offset: ps.offset, slots_offset: ss.offset,
    }, backend.grid(Math.ceil((rows * (d + dv + 1)) / WORKGROUP)));
  } finally {
    for (const t of made) t.dispose();
  }
}

/**
 * `pagedMove` in WGSL: slot from[i] → slot to[i] for i in order, each copy seeing the earlier ones
 * (compaction), so one workgroup walks the list with a storage barrier after every copy.
 */
export function pagedMoveWebGpu(backend: WebGpuBackend, [poolKeys, poolValues, poolPositions, from, to]: readonly Tensor[]): void {
  if (from.size === 0) return;
  assertRowMajor([poolKeys, poolValues, poolPositions]);
  const program = backend.program(`attention-kernels:paged-move:${poolKeys.dtype}`, () => ({
    bindings: [...POOL_BINDINGS(poolKeys.dtype), { name: 'src', dtype: 'i32', access: 'read' }, { name: 'dst', dtype: 'i32', access: 'read' }],
    uniforms: ['count', 'd', 'dv', 'keys_offset', 'vals_offset', 'poss_offset', 'src_offset', 'src_stride', 'dst_offset', 'dst_stride'].map((name) => ({ name, type: 'u32' as const })),
    code: `
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_index) lid: u32) {
  for (var i = 0u; i < u_count(); i = i + 1u) {
    let a = u32(src_load(u_src_offset() + i * u_src_stride()));
    let b = u32(dst_load(u_dst_offset() + i * u_dst_stride()));
    for (var c = lid; c < u_d(); c = c + ${WORKGROUP}u) { keys_store_raw(u_keys_offset() + b * u_d() + c, keys_raw(u_keys_offset() + a * u_d() + c)); }
    for (var c = lid; c < u_dv(); c = c + ${WORKGROUP}u) { vals_store_raw(u_vals_offset() + b * u_dv() + c, vals_raw(u_vals_offset() + a * u_dv() + c)); }
    if (lid == 0u) { poss_store(u_poss_offset() + b, poss_load(u_poss_offset() + a)); }
    storageBarrier();
    workgroupBarrier();
  }
}`,
  }));
  backend.dispatch(program, [poolKeys, poolValues, poolPositions, from, to], {
    count: from.size, d: poolKeys.shape[2], dv: poolValues.shape[2],
    keys_offset: poolKeys.offset, vals_offset: poolValues.offset, poss_offset: poolPositions.offset,
    src_offset: from.offset, src_stride: from.strides[0], dst_offset: to.offset, dst_stride: to.strides[0],
  }, [1]);
}
