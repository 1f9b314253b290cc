import { CorruptModelFileError, numberToBf16Bits } from '@kvkit/tensor-core';

/** Values per MXFP4 block: 32 four-bit codes (16 bytes) sharing one power-of-two scale. */
export const MXFP4_BLOCK = 32;

/** The e2m1 value of each four-bit code (the OCP microscaling format's FP4: sign, 2 exponent bits, 1 mantissa bit). */
const FP4_VALUES = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6];

/** bf16 bits of code c under scale byte s at [s · 16 + c], built on first use (every product is exact in bf16 where finite). */
let table: Uint16Array | undefined;

function bf16Table(): Uint16Array {
  if (table) return table;
  table = new Uint16Array(256 * 16);
  for (let s = 0; s < 256; s++) for (let c = 0; c < 16; c++) table[s * 16 + c] = numberToBf16Bits(FP4_VALUES[c] * 2 ** (s - 127));
  return table;
}

/** Whether bf16 bits hold a finite value (their exponent not all ones). */
const finite = (bits: number): boolean => (bits & 0x7f80) !== 0x7f80;

/**
 * MXFP4 blocks (gpt-oss's experts as released: `…_blocks` U8 [rows, cols / 32, 16], two codes a
 * byte, the low nibble first, and `…_scales` U8 [rows, cols / 32], each block times 2^(scale − 127))
 * decoded into a rows × cols row-major matrix of bf16 bits, the dtype the checkpoint's other
 * tensors have: every e2m1 code times a power of two is exact there. A non-finite value (a NaN
 * scale, or one that overflows) is a corrupt file.
 */
export function dequantizeMxfp4(blocks: Uint8Array, scales: Uint8Array, rows: number, cols: number, fileName: string, tensor: string): Uint16Array {
  const groups = cols / MXFP4_BLOCK;
  if (blocks.length !== rows * cols / 2 || scales.length !== rows * groups) {
    throw new CorruptModelFileError(fileName, `${tensor}: ${blocks.length} block bytes and ${scales.length} scales for a ${rows} × ${cols} matrix (expected ${rows * cols / 2} and ${rows * groups})`, { tensor });
  }
  const values = bf16Table();
  const out = new Uint16Array(rows * cols);
  for (let g = 0; g < rows * groups; g++) {
    const scale = scales[g];
    const row = values.subarray(scale * 16, scale * 16 + 16);
    // E8M0's 255 is NaN; 254 and 253 overflow bf16 with the largest codes.
    const check = scale >= 253;
    for (let i = 0, at = g * MXFP4_BLOCK, from = g * (MXFP4_BLOCK / 2); i < MXFP4_BLOCK / 2; i++, at += 2) {
      const byte = blocks[from + i];
      const low = byte & 0x0f;
      const high = byte >> 4;
      if (check && (scale === 255 || !finite(row[low]) || !finite(row[high]))) {
        throw new CorruptModelFileError(fileName, `${tensor}: block ${g} has scale ${scale}, which makes its values non-finite`, { tensor });
      }
      out[at] = row[low];
      out[at + 1] = row[high];
    }
  }
  return out;
}
