import type { Backend, Tensor } from '@kvkit/tensor-core';
import { registerCpuAttentionKernels } from './cpu/register.js';
import { registerCudaAttentionKernels } from './cuda/register.js';
import { registerWebGpuAttentionKernels } from './webgpu/register.js';
import type { KernelAttrs, KernelResult, KeyStatistics, KiviKernelAttrs } from './ops/attention-types.js';
import type { AttentionState } from './ops/merge-states.js';
import type { TokenCodesKernelAttrs } from './ops/token-codes-attention.js';

/**
 * The kernels of this package, by name: what a CPU, WebGPU or CUDA implementation receives and
 * returns. Each backend registers its implementations with tensor-core's
 * `registerKernel(name, backendName, impl)`; the ops dispatch on the inputs' backend.
 */
declare module '@kvkit/tensor-core' {
  interface KernelSignatures {
    /** [q, k, v, queryPositions, keyPositions, keyLogWeights?] */
    flashAttention: { inputs: [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?]; attrs: KernelAttrs & { queryBlock: number }; output: KernelResult };
    /** [q, k, queryPositions, keyPositions, keyLogWeights?]: statistics only (V never read). */
    attentionStatistics: { inputs: [Tensor, Tensor, Tensor, Tensor, Tensor?]; attrs: KernelAttrs & { queryBlock: number }; output: KeyStatistics };
    /** [q, k, v, queryPositions, keyPositions, keyLogWeights?] */
    decodeAttention: { inputs: [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?]; attrs: KernelAttrs & { partitionSize: number }; output: KernelResult };
    /** [q [B,H,m,d], k, v (packed), queryPositions [B,m], keyPositions [total], kvIndptr [B+1], keyLogWeights [kvHeads,total]?] */
    batchedDecodeAttention: {
      inputs: [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?];
      attrs: KernelAttrs & { partitionSize: number };
      output: KernelResult;
    };
    /**
     * [q, keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin, residualKeys, residualValues,
     * keyPositions, queryPositions]: a `KiviCacheView`'s buffers.
     */
    kiviDecodeAttention: { inputs: Tensor[]; attrs: KiviKernelAttrs; output: KernelResult };
    /**
     * [q, queryPositions, keyPositions, keyCodes, keyScales, keyZeros, valueCodes, valueScales,
     * valueZeros, keyLogWeights?]: keys and values as per-token codes (`TokenCodes`, [n, ·] or [kvHeads, n, ·]).
     */
    tokenCodesAttention: { inputs: Tensor[]; attrs: TokenCodesKernelAttrs; output: KernelResult };
    /**
     * [q [B,H,m,d], poolKeys [pages,P,d], poolValues [pages,P,dv], poolPositions [pages,P],
     * pageTable [B,kvHeads,maxPages], lengths [B,kvHeads], queryPositions [B,m]]
     */
    pagedAttention: { inputs: Tensor[]; attrs: KernelAttrs & { maxLength: number; queryBlock: number }; output: KernelResult };
    /** In place: [poolKeys, poolValues, poolPositions, k [rows,d], v [rows,dv], positions [rows], slots [rows]] */
    pagedWrite: { inputs: Tensor[]; attrs: Record<string, never>; output: void };
    /** In place, in order: [poolKeys, poolValues, poolPositions, fromSlots, toSlots] */
    pagedMove: { inputs: Tensor[]; attrs: Record<string, never>; output: void };
    /**
     * [q [B,H,m,d], poolKeys, poolValues, poolPositions, queryPositions [B,m], chunkPages [S,kvHeads],
     * chunkCounts [S], chunkUsersIndptr [S+1], chunkUsers, ownTable [B,kvHeads,maxOwn], ownLengths [B],
     * runStarts [R+1] (the shared chunks in runs of consecutive chunks with the same users), runSlots [R]
     * (a run's index on the paths through it), ownStart [B] (runs on each request's path), and with
     * statistics pathTable [B,kvHeads,maxPath] (every chunk of each request's path, a block table),
     * pathLengths [B,kvHeads]]; attrs: the most users of a run, partial-state slots per row (runs, then
     * groups of `ownPagesPerSlot` own chunks), the longest path (statistics width; 0 without).
     */
    prefixSharedAttention: { inputs: Tensor[]; attrs: KernelAttrs & { maxUsers: number; slots: number; ownPagesPerSlot: number; maxLength: number }; output: KernelResult };
    /** [output0, lse0, output1, lse1, …] */
    mergeAttentionStates: { inputs: Tensor[]; attrs: Record<string, never>; output: AttentionState };
    /** [scores [..., n]] */
    poolKeyScores: { inputs: [Tensor]; attrs: { kernelSize: number; mode: 'max' | 'avg' }; output: Tensor };
  }
}

/**
 * Registration of this package's kernels, per backend. A GPU backend runs the kernels it has here
 * (see the README's backends section); the others raise tensor-core's KernelNotFoundError.
 */
const registrars = new Map<string, () => void>([
  ['cpu', registerCpuAttentionKernels],
  ['cuda', registerCudaAttentionKernels],
  ['webgpu', registerWebGpuAttentionKernels],
]);

/** Makes sure this package's kernels for `backend` are registered (idempotent, cheap). */
export function ensureAttentionKernels(backend: Backend): void {
  registrars.get(backend.name)?.();
}
