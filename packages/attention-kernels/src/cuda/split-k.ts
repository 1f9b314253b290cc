import type { Tensor } from '@kvkit/tensor-core';
import { arg, type CudaBackend, defineCudaModule, type KernelArg, rowMajor } from '@kvkit/tensor-core/cuda';
import { planSplitK } from '../gpu/split-k-plan.js';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';
import decodeSource from './decode-attention.cu';
import mergeSource from './merge.cu';
import mmaPassHeader from './mma-decode-pass.cuh';
import mmaTileHeader from './mma-decode-tile.cuh';
import mmaPrefillHeader from './mma-prefill-pass.cuh';
import passHeader from './split-k-pass.cuh';

/** Pass 1 and the sources every split-K module includes (`#include "split-k-pass.cuh"`). */
export const SPLIT_K_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'split-k-pass.cuh': passHeader });

/** The tensor-core passes 1 (`#include "mma-decode-pass.cuh"`, `"mma-prefill-pass.cuh"`) and their fragment-level pieces, which they include. */
export const MMA_DECODE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'mma-decode-tile.cuh': mmaTileHeader,
  'mma-decode-pass.cuh': mmaPassHeader,
  'mma-prefill-pass.cuh': mmaPrefillHeader,
});

/**
 * Pass 1 of split-K decode over dense, ragged and paged K/V (16-byte and tensor-core passes). The
 * KIVI, prefix-shared and statistics kernels are modules of their own, so NVRTC compiles (on first
 * use) only what a program launches.
 */
export const decodeAttentionModule = defineCudaModule({ name: 'kvkit-attention-decode', source: decodeSource, headers: { ...SPLIT_K_HEADERS, ...MMA_DECODE_HEADERS } });

/** Pass 2 of every split-K kernel: the log-sum-exp merge of the partitions. */
export const splitKMergeModule = defineCudaModule({ name: 'kvkit-attention-merge', source: mergeSource });

const WARPS = 4; // DEC_WARPS in split-k-pass.cuh
const ROWS = 8; // DEC_ROWS
const KEYS = 128; // DEC_KEYS: the 16-byte pass stages each chunk's rows (i64), positions and log weights
const VALUE_TILE_LIMIT = 96 * 1024; // DEC_VALUE_TILE_LIMIT
const MERGE_THREADS = 128;

/** What pass 1 of a split-K decode launch needs besides its own inputs. */
export interface PartialLaunch {
  /** Partial outputs [parts, rows, dv] and states [parts, rows, 2] (max, Σ exp) to fill. */
  acc: Tensor;
  stat: Tensor;
  grid: [number, number, number];
  block: number;
  sharedBytes: number;
}

/** Row-major copies (or views) of the inputs, disposed together. */
export class Staging {
  private readonly made: Tensor[] = [];
  constructor(private readonly backend: CudaBackend) {}
  rowMajor(t: Tensor): Tensor {
    return this.keep(rowMajor(this.backend, t));
  }
  keep(t: Tensor): Tensor {
    this.made.push(t);
    return t;
  }
  dispose(): void {
    for (const t of this.made) t.dispose();
  }
}

/**
 * Query rows per block of pass 1, and its block size and dynamic shared memory for these head dims
 * and value rows of `valueBytes` per element: the 16-byte pass also holds a chunk's value rows
 * when they fit under 96 KiB (dec_value_tile_fits in split-k-pass.cuh; 0: the kernel never does).
 */
export const PARTIAL_ROWS = ROWS;
export function partialBlock(d: number, dv: number, valueBytes: number): { block: number; sharedBytes: number } {
  const base = 4 * (ROWS * d + WARPS * ROWS * dv + 2 * WARPS * ROWS) + KEYS * (8 + 4 + 4);
  const valueTile = KEYS * dv * valueBytes;
  return { block: WARPS * 32, sharedBytes: valueTile > 0 && base + valueTile <= VALUE_TILE_LIMIT ? base + valueTile : base };
}

/**
 * The split-K skeleton every CUDA decode kernel shares: allocates the partials, lets `partial` launch
 * pass 1 (one block per partition × KV head × chunk of ≤ 8 query rows; mmaDecodeLaunch regroups
 * them by 16 for a tensor-core pass), then merges the partitions by log-sum-exp into the output
 * [qHeads, m, dv] (q's dtype) and the f32 lse [qHeads, m].
 */
export function splitKDecode(
  backend: CudaBackend,
  q: Tensor,
  shape: { kvHeads: number; n: number; dv: number; partition: number; valueBytes: number },
  attrs: KernelAttrs,
  partial: (launch: PartialLaunch, staging: Staging) => void,
): KernelResult {
  const [qHeads, m, d] = q.shape;
  const { kvHeads, dv } = shape;
  const plan = planSplitK(backend, q, shape, attrs.lse);
  const { rows, parts, output, lse } = plan;
  if (plan.empty) return plan.result();
  const staging = new Staging(backend);
  try {
    const acc = staging.keep(backend.empty([Math.max(parts, 1), rows, dv], 'f32'));
    const stat = staging.keep(backend.empty([Math.max(parts, 1), rows, 2], 'f32'));
    if (parts > 0) {
      const chunks = Math.ceil(((qHeads / kvHeads) * m) / ROWS);
      partial({ acc, stat, grid: [parts, kvHeads, chunks], ...partialBlock(d, dv, shape.valueBytes) }, staging);
    }
    mergePartialsCuda(backend, { acc, stat, parts }, output, lse);
  } finally {
    staging.dispose();
  }
  return plan.result();
}

/**
 * Pass 2: merges partials (outputs f32 [parts, rows, dv], states f32 [parts, rows, 2]) by
 * log-sum-exp into `output` (row-major, rows × dv elements, any float dtype) and, when given, `lse` [rows].
 */
export function mergePartialsCuda(backend: CudaBackend, partials: { acc: Tensor; stat: Tensor; parts: number }, output: Tensor, lse: Tensor | undefined): void {
  const [, rows, dv] = partials.acc.shape;
  if (rows === 0) return;
  backend.launch(splitKMergeModule, `kv_decode_merge_${output.dtype}`, { grid: rows, block: MERGE_THREADS }, [
    arg.ptr(backend.address(output)), arg.ptr(lse ? backend.address(lse) : 0),
    arg.ptr(backend.address(partials.acc)), arg.ptr(backend.address(partials.stat)),
    arg.i32(rows), arg.i32(partials.parts), arg.i32(dv),
  ]);
}

/** The mask attributes as the partial kernels take them (scale, causal, window, softcap). */
export const maskArgs = (attrs: KernelAttrs): KernelArg[] => [arg.f32(attrs.scale), arg.bool(attrs.causal), arg.i32(attrs.window), arg.f32(attrs.softcap)];
