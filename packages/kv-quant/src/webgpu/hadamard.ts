import { registerKernel } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import type {} from '../kernels/hadamard.js';
import { assertFloatInput, launchRows, rowOperand, taskEntry } from './rows.js';
import { SOFT_DOUBLE_WGSL } from './soft-double.js';
import { doubleWords, SOFT_DOUBLE_MULTIPLY_WGSL } from './soft-double-multiply.js';

/**
 * The WGSL implementation of kvHadamard, bit-exact with the CPU kernel (kernels/hadamard.ts,
 * numeric/fwhtInPlace): the CPU widens each value to float64, runs the butterflies of the
 * Sylvester order in float64 (a + b, a − b, each rounded to 53 bits), multiplies by the float64
 * 1 / √B and rounds once to f32. The same operations run here exactly on integers (soft-double.ts),
 * the float64 intermediates kept as IEEE double bits in a scratch buffer (two words per value).
 * One thread per block of B values; any B, one pipeline.
 */

const SIZE_UNIFORMS = ['rows', 'n', 'block_size', 'blocks', 'norm_lo', 'norm_hi'].map((name) => ({ name, type: 'u32' as const }));

const HADAMARD_SOURCE = `${SOFT_DOUBLE_WGSL}
${SOFT_DOUBLE_MULTIPLY_WGSL}
fn load_value(e: u32) -> KvqF64 { return kvq_unpack(vec2<u32>(scratch_raw(2u * e), scratch_raw(2u * e + 1u))); }
fn store_value(e: u32, a: KvqF64) {
  let w = kvq_pack(a);
  scratch_store_raw(2u * e, w.x);
  scratch_store_raw(2u * e + 1u, w.y);
}
${taskEntry(`
  if (task >= u_rows() * u_blocks()) { return; }
  let r = task / u_blocks();
  let size = u_block_size();
  let first = (task - r * u_blocks()) * size;
  let base = r * u_n() + first; // the block's first element in the row-major output and scratch
  for (var i = 0u; i < size; i++) { store_value(base + i, kvq_from_bits(x_f32_bits(r, first + i), 23u, 8u)); }
  // Stage h pairs i with i + h, as fwhtInPlace does.
  for (var h = 1u; h < size; h *= 2u) {
    for (var i = 0u; i < size; i += 2u * h) {
      for (var j = base + i; j < base + i + h; j++) {
        let a = load_value(j);
        let b = load_value(j + h);
        store_value(j, kvq_add(a, b));
        store_value(j + h, kvq_add(a, kvq_negate(b)));
      }
    }
  }
  let norm = kvq_unpack(vec2<u32>(u_norm_lo(), u_norm_hi()));
  for (var i = 0u; i < size; i++) { out_store_raw(base + i, kvq_to_bits(kvq_mul(load_value(base + i), norm), 23u, 8u, KVQ_NEAREST)); }`)}`;

export function registerHadamardWebGpuKernels(): void {
  registerKernel<'kvHadamard', WebGpuBackend>('kvHadamard', 'webgpu', (backend, [x], { blockSize }) => {
    const where = 'kvHadamard';
    assertFloatInput(x, where);
    const out = backend.empty(x.shape, 'f32');
    if (out.size === 0) return out;
    const n = x.shape[x.rank - 1];
    const rows = x.size / n;
    const scratch = backend.empty([2 * x.size], 'u32');
    // The CPU's normalization, the float64 1 / Math.sqrt(B), passed as its bits.
    const [normLo, normHi] = doubleWords(1 / Math.sqrt(blockSize));
    launchRows(backend, where, {
      operands: [rowOperand('x', x)],
      outputs: [
        { binding: { name: 'out', dtype: 'u32', access: 'write' }, tensor: out },
        { binding: { name: 'scratch', dtype: 'u32', access: 'write' }, tensor: scratch },
      ],
      uniforms: SIZE_UNIFORMS,
      values: { rows, n, block_size: blockSize, blocks: n / blockSize, norm_lo: normLo, norm_hi: normHi },
      source: HADAMARD_SOURCE,
      tasks: rows * (n / blockSize),
    });
    scratch.dispose();
    return out;
  });
}
