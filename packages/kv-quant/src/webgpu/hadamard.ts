import { registerKernel } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import type {} from '../kernels/hadamard.js';
import { assertFloatInput, launchRows, rowOperand } from './rows.js';
import { SOFT_DOUBLE_WGSL } from './soft-double.js';
import { doubleWords, SOFT_DOUBLE_MULTIPLY_WGSL } from './soft-double-multiply.js';

/**
 * The WGSL implementation of kvHadamard, bit-exact with the CPU kernel (kernels/hadamard.ts,
 * numeric/fwhtInPlace): the CPU widens each value to float64, runs the butterflies of the
 * Sylvester order in float64 (a + b, a − b, each rounded to 53 bits), multiplies by the float64
 * 1 / √B and rounds once to f32. The same operations run here exactly on integers (soft-double.ts).
 * One workgroup per block: its threads share a stage's B / 2 butterflies (independent of each
 * other, so any order gives the CPU's values), the float64 intermediates kept as IEEE double bits
 * in workgroup memory — or, for blocks over `SHARED_VALUES`, in a scratch buffer. One pipeline.
 */

/** Doubles a workgroup holds: 16 KiB, WebGPU's guaranteed workgroup storage. */
const SHARED_VALUES = 2048;
const THREADS = 64;

const SIZE_UNIFORMS = ['n', 'block_size', 'blocks', 'row_blocks', 'in_scratch', 'norm_lo', 'norm_hi'].map((name) => ({ name, type: 'u32' as const }));

const HADAMARD_SOURCE = `${SOFT_DOUBLE_WGSL}
${SOFT_DOUBLE_MULTIPLY_WGSL}
var<workgroup> shared_block: array<vec2<u32>, ${SHARED_VALUES}>;
// Value i of the workgroup's block, whose first element is at e0 of the row-major output.
fn load_value(e0: u32, i: u32) -> KvqF64 {
  if (u_in_scratch() == 1u) { return kvq_unpack(vec2<u32>(scratch_raw(2u * (e0 + i)), scratch_raw(2u * (e0 + i) + 1u))); }
  return kvq_unpack(shared_block[i]);
}
fn store_value(e0: u32, i: u32, a: KvqF64) {
  let w = kvq_pack(a);
  if (u_in_scratch() == 1u) {
    scratch_store_raw(2u * (e0 + i), w.x);
    scratch_store_raw(2u * (e0 + i) + 1u, w.y);
  } else {
    shared_block[i] = w;
  }
}
fn stage_barrier() {
  storageBarrier();
  workgroupBarrier();
}

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let blk = wid.x + wid.y * nwg.x; // uniform across the workgroup, so the barriers below are too
  if (blk >= u_blocks()) { return; }
  let size = u_block_size();
  let r = blk / u_row_blocks();
  let first = (blk - r * u_row_blocks()) * size;
  let e0 = r * u_n() + first;
  for (var i = lid; i < size; i += ${THREADS}u) { store_value(e0, i, kvq_from_bits(x_f32_bits(r, first + i), 23u, 8u)); }
  stage_barrier();
  // Stage h pairs i with i + h (fwhtInPlace's order); butterfly p is the p-th such pair.
  for (var h = 1u; h < size; h *= 2u) {
    for (var p = lid; p < size / 2u; p += ${THREADS}u) {
      let i = (p / h) * 2u * h + p % h;
      let a = load_value(e0, i);
      let b = load_value(e0, i + h);
      store_value(e0, i, kvq_add(a, b));
      store_value(e0, i + h, kvq_add(a, kvq_negate(b)));
    }
    stage_barrier();
  }
  let norm = kvq_unpack(vec2<u32>(u_norm_lo(), u_norm_hi()));
  for (var i = lid; i < size; i += ${THREADS}u) { out_store_raw(e0 + i, kvq_to_bits(kvq_mul(load_value(e0, i), norm), 23u, 8u, KVQ_NEAREST)); }
}`;

export function registerHadamardWebGpuKernels(): void {
  registerKernel<'kvHadamard', WebGpuBackend>('kvHadamard', 'webgpu', (backend, [x], { blockSize }) => {
    const where = 'kvHadamard';
    assertFloatInput(x, where);
    const out = backend.empty(x.shape, 'f32');
    if (out.size === 0) return out;
    const n = x.shape[x.rank - 1];
    const blocks = x.size / blockSize;
    const inScratch = blockSize > SHARED_VALUES;
    // Blocks too long for workgroup memory keep their doubles in a scratch buffer (a one-word placeholder otherwise).
    const scratch = backend.empty([inScratch ? 2 * x.size : 1], 'u32');
    // The CPU's normalization, the float64 1 / Math.sqrt(B), passed as its bits.
    const [normLo, normHi] = doubleWords(1 / Math.sqrt(blockSize));
    launchRows(backend, where, {
      operands: [rowOperand('x', x)],
      outputs: [
        { binding: { name: 'out', dtype: 'u32', access: 'write' }, tensor: out },
        { binding: { name: 'scratch', dtype: 'u32', access: 'write' }, tensor: scratch },
      ],
      uniforms: SIZE_UNIFORMS,
      values: { n, block_size: blockSize, blocks, row_blocks: n / blockSize, in_scratch: inScratch ? 1 : 0, norm_lo: normLo, norm_hi: normHi },
      source: HADAMARD_SOURCE,
      tasks: blocks * THREADS, // one workgroup per block
    });
    scratch.dispose();
    return out;
  });
}
