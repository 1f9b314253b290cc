import { CorruptModelFileError, type SafetensorsEntry, sizeOf } from '@kvkit/tensor-core';
import type { ExpectedTensor } from './checkpoint-tensors.js';
import { dequantizeFp8Blocks } from './fp8.js';
import { dequantizeMxfp4, MXFP4_BLOCK } from './mxfp4.js';

// A checkpoint may store a tensor in another layout than the row-major [out, in] matrices the
// runtime multiplies by: input-major (GPT-2's Conv1D, gpt-oss's dequantized experts), MXFP4
// blocks (gpt-oss as released), block FP8 (DeepSeek-V3's, Qwen3's FP8 releases), or with the rows of two projections interleaved (gpt-oss's
// gate_up_proj). Each is rearranged here once, at load, into `ExpectedTensor.shape`.

/** The shape the checkpoint's tensor has (for MXFP4, its blocks'), for the shape check. */
export function storedShape(item: ExpectedTensor): number[] {
  const { shape } = item;
  if (item.mxfp4Scales !== undefined) return [...shape.slice(0, -1), shape[shape.length - 1] / MXFP4_BLOCK, MXFP4_BLOCK / 2];
  if (item.transposed) return [...shape.slice(0, -2), shape[shape.length - 1], shape[shape.length - 2]];
  return shape;
}

/** The shape an MXFP4 tensor's scales have: one per block of 32 values. */
export const mxfp4ScalesShape = (item: ExpectedTensor): number[] => storedShape(item).slice(0, -1);

/** A block-FP8 tensor's scales (f32, its `weight_scale_inv`) and the rows and columns each block spans. */
export interface Fp8Scales {
  scales: Float32Array;
  blocks: [number, number];
}

/** The shape a block-FP8 tensor's `weight_scale_inv` has: one per block of each stored matrix (the last two axes). */
export function fp8ScalesShape(item: ExpectedTensor, [rowsPerBlock, colsPerBlock]: readonly [number, number]): number[] {
  const shape = storedShape(item);
  const [rows, cols] = shape.slice(-2);
  return [...shape.slice(0, -2), Math.ceil(rows / rowsPerBlock), Math.ceil(cols / colsPerBlock)];
}

/**
 * The stored bytes of `item` (its `entry`; with `scales` for MXFP4, `fp8` for block FP8) in the
 * runtime's layout, `item.shape` row-major, with the entry describing them (bf16 where MXFP4 was
 * decoded, f32 where FP8 was).
 */
export function runtimeLayout(
  item: ExpectedTensor,
  entry: SafetensorsEntry,
  stored: Uint8Array,
  scales: Uint8Array | undefined,
  fileName: string,
  fp8?: Fp8Scales,
): { bytes: Uint8Array; entry: SafetensorsEntry } {
  let bytes = stored;
  let dtype = entry.dtype;
  const cols = item.shape[item.shape.length - 1];
  if (fp8) {
    // Dequantized in the stored layout (the blocks tile its last two axes), before any rearranging.
    if (entry.shape.length < 2) throw new CorruptModelFileError(fileName, `tensor "${entry.name}" is F8_E4M3 but not a matrix`, { tensor: entry.name });
    const [rows, width] = entry.shape.slice(-2);
    bytes = new Uint8Array(dequantizeFp8Blocks(stored, fp8.scales, sizeOf(entry.shape.slice(0, -2)), rows, width, fp8.blocks, fileName, entry.name).buffer);
    dtype = 'F32';
  }
  if (item.mxfp4Scales !== undefined) {
    if (entry.dtype !== 'U8' || !scales) throw new CorruptModelFileError(fileName, `tensor "${entry.name}" must be U8 MXFP4 blocks with its scales, got ${entry.dtype}`, { tensor: entry.name });
    const decoded = dequantizeMxfp4(stored, scales, sizeOf(item.shape) / cols, cols, fileName, entry.name);
    bytes = new Uint8Array(decoded.buffer);
    dtype = 'BF16';
  }
  if (item.transposed) bytes = transposedMatrices(bytes, sizeOf(item.shape.slice(0, -2)), cols, item.shape[item.shape.length - 2], fileName);
  if (item.interleavedRows) bytes = deinterleavedRows(bytes, item.shape[0], item.shape[1]);
  return { bytes, entry: { ...entry, dtype, shape: item.shape, begin: 0, end: bytes.length } };
}

/** An element view of `bytes` (copied first where a shard places them off the element's alignment). */
function elements(bytes: Uint8Array, count: number, fileName: string): Uint8Array | Uint16Array | Uint32Array {
  const width = bytes.length / count;
  const View = ({ 1: Uint8Array, 2: Uint16Array, 4: Uint32Array } as const)[width as 1 | 2 | 4];
  if (!View) throw new CorruptModelFileError(fileName, `a ${width}-byte element type cannot be rearranged at load`);
  const aligned = bytes.byteOffset % width === 0 ? bytes : bytes.slice();
  return new View(aligned.buffer as ArrayBuffer, aligned.byteOffset, count);
}

/** `count` row-major [rows, cols] matrices, each rearranged as its transpose [cols, rows] (any element width). */
export function transposedMatrices(bytes: Uint8Array, count: number, rows: number, cols: number, fileName: string): Uint8Array {
  const size = rows * cols;
  const source = elements(bytes, count * size, fileName);
  const out = new (source.constructor as Uint8ArrayConstructor)(count * size);
  for (let m = 0; m < count; m++) {
    const base = m * size;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[base + c * rows + r] = source[base + r * cols + c];
  }
  return new Uint8Array(out.buffer);
}

/**
 * [count, rows, …] whose `rows` along axis 1 come in interleaved pairs (a, b, a, b…), rearranged so
 * that each of the `count` blocks holds its a's (the even rows), then its b's (the odd ones).
 */
function deinterleavedRows(bytes: Uint8Array, count: number, rows: number): Uint8Array {
  const rowBytes = bytes.length / (count * rows);
  const out = new Uint8Array(bytes.length);
  for (let m = 0; m < count; m++) {
    for (let r = 0; r < rows; r++) {
      const target = m * rows + (r % 2 === 0 ? r / 2 : rows / 2 + (r - 1) / 2);
      out.set(bytes.subarray((m * rows + r) * rowBytes, (m * rows + r + 1) * rowBytes), target * rowBytes);
    }
  }
  return out;
}
