import type { Backend } from '../backend.js';
import { IndexOutOfRangeError, InvalidConfigError } from '../errors.js';
import type { Tensor } from '../tensor.js';

/** What a store needs to know about the layer it serves. */
export interface StoreSpec {
  kvHeads: number;
  headDim: number;
  backend: Backend;
  layerIndex: number;
}

/**
 * One head's n tokens held as per-token uniform codes in tensor-core's packed layout (`packing.ts`):
 * token t's channels are cut into groups of `groupSize`, each with one scale and zero point, and
 * x̂ = code · scale + zero (asymmetric min–max, rounded once to f32). Kernels that read codes in place
 * (e.g. @kvkit/attention-kernels' quantized tile sources) take this instead of dequantized tensors.
 */
export interface TokenCodes {
  /** Bits per code: 2, 3, 4 or 8. */
  bits: number;
  /** Channels per scale and zero point; divides headDim. */
  groupSize: number;
  /** u32 [n, (headDim / groupSize) · ⌈groupSize / ⌊32 / bits⌋⌉]. */
  codes: Tensor;
  /** f16 or f32 [n, headDim / groupSize]. */
  scales: Tensor;
  /** Same dtype and shape as `scales`. */
  zeros: Tensor;
}

/**
 * One head's tokens as attention reads them. Dispose the view when done.
 *
 * A store holding codes sets `codes`; it may then build `keys` and `values` lazily (on first read),
 * so a kernel that reads the codes in place never pays for a dequantized copy.
 */
export interface HeadView {
  /** [1, n, headDim]. */
  readonly keys: Tensor;
  /** [1, n, headDim]. */
  readonly values: Tensor;
  /** Absolute positions of the n tokens, in storage order. */
  positions: Int32Array;
  /** The same tokens as per-token codes, when the store holds them so (valid until the view is disposed). */
  readonly codes?: { keys: TokenCodes; values: TokenCodes };
  dispose(): void;
}

/**
 * Per-KV-head ragged token storage (the seam between eviction methods, e.g. @kvkit/kv-evict, and storage
 * formats, e.g. @kvkit/kv-quant's quantized store): each head holds its own kept tokens and their positions, in the
 * order they arrived. This is the interface eviction policies evict from and the place where the
 * storage format plugs in — the dense store (`raggedDenseStore`) by default, a quantized store
 * (from kv-quant) for evict + quantize:
 *
 * - `append` adds the same tokens to every head and is atomic: if it throws, nothing changed.
 * - `retain(head, keep)` keeps only the listed tokens of one head and must release the bytes of the
 *   others (a group-quantized store re-packs the groups it touches); `memory()` shows the saving.
 * - `write` overwrites one token (merging methods write the merged vector back; a quantized store
 *   re-quantizes it). `appendHead` adds host vectors to one head (demotion targets, merged tokens).
 * - `read` returns host f32 copies (scorers and mergers that look at keys); `view` returns tensors
 *   attention can read — a quantized store dequantizes there, or a fused kernel reads it directly
 *   once the attention seam of the evicting package learns its format.
 */
export interface TokenStore {
  readonly kvHeads: number;
  readonly headDim: number;
  /** Tokens held by `head`. */
  count(head: number): number;
  /** Positions of `head`'s tokens in storage order (a read-only view; do not keep it across calls). */
  positions(head: number): Int32Array;
  /** k, v: [kvHeads, n, headDim] (any float dtype); positions: length n. */
  append(keys: Tensor, values: Tensor, positions: Int32Array): void;
  /** Adds n host vectors (row-major [n, headDim]) to one head. */
  appendHead(head: number, keys: Float32Array, values: Float32Array, positions: Int32Array): void;
  /** Keeps the tokens at the given storage indices (strictly ascending) and frees the rest. */
  retain(head: number, keep: Int32Array): void;
  /** Overwrites the key and value of token `index` of `head`. */
  write(head: number, index: number, key: Float32Array, value: Float32Array): void;
  /** Host f32 copies, row-major [count, headDim]. */
  read(head: number): { keys: Float32Array; values: Float32Array };
  view(head: number): HeadView;
  /** Resident bytes by part (keys, values, positions, reserved, or codes/scales for quantized stores). */
  memory(): Record<string, number>;
  dispose(): void;
}

export type TokenStoreFactory = (spec: StoreSpec) => TokenStore;

/**
 * The check every `TokenStore.retain` makes before touching anything: keep lists are strictly
 * ascending storage indices inside [0, count).
 */
export function validateKeepIndices(keep: Int32Array, count: number, where: string): void {
  if (!(keep instanceof Int32Array)) throw new InvalidConfigError(`${where}: keep must be an Int32Array of storage indices`);
  for (let i = 0; i < keep.length; i++) {
    const k = keep[i];
    if (k < 0 || k >= count) throw new IndexOutOfRangeError(`${where}: index ${k} is outside [0, ${count})`, { index: k, count });
    if (i > 0 && k <= keep[i - 1]) throw new InvalidConfigError(`${where}: keep indices must be strictly ascending (${keep[i - 1]} then ${k})`);
  }
}
