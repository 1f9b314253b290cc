import { CorruptModelFileError } from '@kvkit/tensor-core';

/**
 * The value of each float8 e4m3 byte (safetensors' F8_E4M3, PyTorch's float8_e4m3fn): a sign, four
 * exponent bits biased by 7, three mantissa bits; subnormals below 2⁻⁶, no infinities, and NaN
 * where exponent and mantissa are all ones (±0x7f). Built on first use.
 */
let e4m3: Float64Array | undefined;

export function e4m3Values(): Float64Array {
  if (e4m3) return e4m3;
  e4m3 = new Float64Array(256);
  for (let byte = 0; byte < 256; byte++) {
    const sign = byte & 0x80 ? -1 : 1;
    const exponent = (byte >> 3) & 0x0f;
    const mantissa = byte & 0x07;
    e4m3[byte] = exponent === 0x0f && mantissa === 0x07 ? NaN : exponent === 0 ? sign * (mantissa / 8) * 2 ** -6 : sign * (1 + mantissa / 8) * 2 ** (exponent - 7);
  }
  return e4m3;
}

/**
 * Block-quantized FP8 weights (quantization_config `fp8` with `weight_block_size` [rowsPerBlock,
 * colsPerBlock], as DeepSeek-V3, Kimi K2 and Qwen3's FP8 releases store their linear layers):
 * `count` row-major [rows, cols] matrices of e4m3 codes, each block of the grid
 * [⌈rows / rowsPerBlock⌉, ⌈cols / colsPerBlock⌉] times its `weight_scale_inv` (a multiplier,
 * despite the name), decoded into f32 (the product rounded once). A NaN code or a non-finite
 * scale is a corrupt file.
 */
export function dequantizeFp8Blocks(
  codes: Uint8Array,
  scales: Float32Array,
  count: number,
  rows: number,
  cols: number,
  [rowsPerBlock, colsPerBlock]: readonly [number, number],
  fileName: string,
  tensor: string,
): Float32Array {
  const [gridRows, gridCols] = [Math.ceil(rows / rowsPerBlock), Math.ceil(cols / colsPerBlock)];
  if (codes.length !== count * rows * cols || scales.length !== count * gridRows * gridCols) {
    throw new CorruptModelFileError(fileName, `${tensor}: ${codes.length} FP8 codes and ${scales.length} scales for ${count} × [${rows}, ${cols}] in blocks of [${rowsPerBlock}, ${colsPerBlock}]`, { tensor });
  }
  const values = e4m3Values();
  const out = new Float32Array(codes.length);
  for (let m = 0; m < count; m++) {
    for (let r = 0; r < rows; r++) {
      const scaleRow = (m * gridRows + Math.floor(r / rowsPerBlock)) * gridCols;
      const at = (m * rows + r) * cols;
      for (let block = 0; block < gridCols; block++) {
        const scale = scales[scaleRow + block];
        const end = at + Math.min(cols, (block + 1) * colsPerBlock);
        for (let i = at + block * colsPerBlock; i < end; i++) {
          const value = values[codes[i]] * scale;
          // NaN codes, and scales that are not finite or overflow f32 with a large code.
          if (!(Math.abs(value) <= 3.4028234663852886e38)) {
            throw new CorruptModelFileError(fileName, `${tensor}: entry [${r}, ${i - at}] of matrix ${m} is not finite (code 0x${codes[i].toString(16)}, scale ${scale})`, { tensor });
          }
          out[i] = value;
        }
      }
    }
  }
  return out;
}
