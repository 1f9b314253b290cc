import {
  type CpuBackend,
  packCodes,
  registerKernel,
  runKernel,
  SUPPORTED_BITS,
  ShapeMismatchError,
  type Tensor,
  unpackCodes,
  UnsupportedBitWidthError,
  wordsPerRow,
} from '@kvkit/tensor-core';
import { nearestCentroid } from '../numeric/kmeans.js';
import { registerVectorCudaKernels } from '../cuda/vector.js';
import { registerVectorWebGpuKernels } from '../webgpu/vector.js';
import { lazyRegistration, output, readFloats, readWords } from './host.js';

/**
 * Vector quantization of channel groups (Coupled Quantization): the d channels of each token are
 * cut into d/c groups of c consecutive channels; each group is replaced by the index of its
 * nearest centroid (squared Euclidean, ties → lowest index) in that head's and group's codebook of
 * K = 2^bits centroids. Codes are packed along the groups in tensor-core's layout.
 */
export interface VectorQuantAttrs {
  /** Channels per group. */
  channels: number;
  /** log2 of the codebook size. */
  bits: number;
}

declare module '@kvkit/tensor-core' {
  interface KernelSignatures {
    kvQuantizeVector: { inputs: [Tensor, Tensor]; attrs: VectorQuantAttrs; output: Tensor };
    kvDequantizeVector: { inputs: [Tensor, Tensor]; attrs: VectorQuantAttrs; output: Tensor };
  }
}

export const ensureVectorKernels = lazyRegistration(() => {
  registerKernel<'kvQuantizeVector', CpuBackend>('kvQuantizeVector', 'cpu', (backend, [x, codebooksT], { channels: c, bits }) => {
    const [h, n, d] = x.shape;
    const groups = d / c;
    const k = 2 ** bits;
    const values = readFloats(x, 'kvQuantizeVector');
    const books = readFloats(codebooksT, 'kvQuantizeVector');
    const codes = new Uint8Array(h * n * groups);
    for (let head = 0; head < h; head++) {
      for (let t = 0; t < n; t++) {
        for (let g = 0; g < groups; g++) {
          codes[(head * n + t) * groups + g] = nearestCentroid(values, (head * n + t) * d + g * c, books, k, c, (head * groups + g) * k * c);
        }
      }
    }
    return output(backend, packCodes(codes, groups, bits), [h, n, wordsPerRow(groups, bits)], 'u32');
  });
  registerKernel<'kvDequantizeVector', CpuBackend>('kvDequantizeVector', 'cpu', (backend, [words, codebooksT], { channels: c, bits }) => {
    const [h, groups, k] = codebooksT.shape;
    const n = words.shape[1];
    const codes = unpackCodes(readWords(words), groups, bits);
    const books = readFloats(codebooksT, 'kvDequantizeVector');
    const d = groups * c;
    const out = new Float32Array(h * n * d);
    for (let head = 0; head < h; head++) {
      for (let t = 0; t < n; t++) {
        for (let g = 0; g < groups; g++) {
          const centroid = ((head * groups + g) * k + codes[(head * n + t) * groups + g]) * c;
          out.set(books.subarray(centroid, centroid + c), (head * n + t) * d + g * c);
        }
      }
    }
    return output(backend, out, [h, n, d], 'f32');
  });
  // GPU implementations, bit-exact with the CPU kernel: picked when the tensors live on that backend.
  registerVectorCudaKernels();
  registerVectorWebGpuKernels();
});

function check(codebooks: Tensor, heads: number, attrs: VectorQuantAttrs, where: string): void {
  if (!SUPPORTED_BITS.includes(attrs.bits)) throw new UnsupportedBitWidthError(attrs.bits, SUPPORTED_BITS, `${where} (code width)`);
  const [h, , k, c] = codebooks.shape;
  if (codebooks.dtype !== 'f32' || codebooks.rank !== 4 || h !== heads || k !== 2 ** attrs.bits || c !== attrs.channels) {
    throw new ShapeMismatchError(
      `${where}: codebooks must be f32 [heads=${heads}, groups, ${2 ** attrs.bits}, ${attrs.channels}], got ${
        codebooks.dtype
      } [${codebooks.shape.join(', ')}]`
    );
  }
}

/** x: [h, n, d] → u32 codes [h, n, wordsPerRow(d / c, bits)]; codebooks f32 [h, d / c, 2^bits, c]. */
export function quantizeVector(x: Tensor, codebooks: Tensor, attrs: VectorQuantAttrs): Tensor {
  check(codebooks, x.shape[0], attrs, 'quantizeVector');
  if (x.rank !== 3 || x.shape[2] !== codebooks.shape[1] * attrs.channels) {
    throw new ShapeMismatchError(
      `quantizeVector: x must be [${codebooks.shape[0]}, n, ${codebooks.shape[1] * attrs.channels}], got [${x.shape.join(', ')}]`
    );
  }
  ensureVectorKernels();
  return runKernel('kvQuantizeVector', [x, codebooks], attrs);
}

/** f32 [h, n, d] from codes [h, n, words] and the codebooks they index. */
export function dequantizeVector(codes: Tensor, codebooks: Tensor, attrs: VectorQuantAttrs): Tensor {
  check(codebooks, codes.shape[0], attrs, 'dequantizeVector');
  ensureVectorKernels();
  return runKernel('kvDequantizeVector', [codes, codebooks], attrs);
}
