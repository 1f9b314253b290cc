// Block-FP8 checkpoints (quantization_config fp8 with weight_block_size: DeepSeek-V3's, Kimi K2's,
// Qwen3's FP8 releases): every F8_E4M3 matrix is dequantized at load with its weight_scale_inv.
// Checked against the float8 e4m3 definition built bit by bit, and end to end on a fixture whose
// matrices are quantized here: its logits equal those of the same model with the dequantized
// weights stored as f32 (computed by that definition), and differ from the unquantized model's.
import { join } from 'node:path';
import { readSafetensorsData } from '@kvkit/tensor-core';
import { relativeError } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { e4m3Values } from '../src/fp8.js';
import { loadModel, parseModelConfig, parseSafetensors, readFloat32, serializeSafetensors } from '../src/index.js';
import { referenceIdLogits } from './helpers/edited-checkpoint.js';
import { expectKvkitError } from './helpers/errors.js';
import { filesOf, readReference, rows, TORCH_REFERENCE } from './helpers/fixtures.js';

/** The f32 value of an e4m3 byte assembled from its bits (normal: sign, exponent − 7 + 127, mantissa; subnormal: m · 2⁻⁹). */
function e4m3FromBits(byte: number): number {
  const [sign, exponent, mantissa] = [byte >> 7, (byte >> 3) & 0xf, byte & 0x7];
  if (exponent === 0xf && mantissa === 0x7) return NaN;
  if (exponent === 0) return (sign ? -1 : 1) * mantissa * 2 ** -9;
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, (sign << 31) | ((exponent - 7 + 127) << 23) | (mantissa << 20));
  return view.getFloat32(0);
}

const FIXTURE = join(TORCH_REFERENCE, 'deepseek-v3');
/** Blocks that tile the fixture's matrices unevenly (48-wide rows: 3 blocks of 16; 12-wide: one partial). */
const BLOCKS: [number, number] = [16, 20];

type Stored = { dtype: string; shape: number[]; data: Float32Array | Uint8Array | Uint16Array };

/**
 * The fixture with every attention and MLP matrix quantized to e4m3 in blocks (each block's scale its
 * largest magnitude / 448, each value the nearest code), its scales stored as `scaleDtype`; and the
 * same model with those dequantized values stored as f32.
 */
function quantizedFixture(scaleDtype: 'F32' | 'BF16'): { fp8: Record<string, Uint8Array>; dequantized: Record<string, Uint8Array> } {
  const files = filesOf(FIXTURE);
  const file = parseSafetensors(files['model.safetensors'], 'model.safetensors');
  const codes = Array.from({ length: 256 }, (_, b) => e4m3FromBits(b));
  const [fp8, dequantized]: Record<string, Stored>[] = [{}, {}];
  for (const [name, entry] of file.tensors) {
    const data = readFloat32(file, entry);
    const quantize = entry.shape.length === 2 && /\.(self_attn|mlp)\./.test(name) && !name.endsWith('mlp.gate.weight');
    if (!quantize) {
      fp8[name] = dequantized[name] = { dtype: 'F32', shape: entry.shape, data };
      continue;
    }
    const [rowCount, cols] = entry.shape;
    const grid = [Math.ceil(rowCount / BLOCKS[0]), Math.ceil(cols / BLOCKS[1])];
    const scales = new Float32Array(grid[0] * grid[1]);
    for (let i = 0; i < data.length; i++) {
      const at = Math.floor(Math.floor(i / cols) / BLOCKS[0]) * grid[1] + Math.floor((i % cols) / BLOCKS[1]);
      scales[at] = Math.max(scales[at], Math.abs(data[i]) / 448);
    }
    // Scales as stored: bf16 ones rounded (by truncation here: any value is a valid scale).
    const storedScales = scaleDtype === 'BF16' ? Float32Array.from(scales, (s) => new Float32Array(new Uint32Array([new Uint32Array(Float32Array.of(s).buffer)[0] & 0xffff0000]).buffer)[0]) : scales;
    const q = new Uint8Array(data.length);
    const values = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const scale = storedScales[Math.floor(Math.floor(i / cols) / BLOCKS[0]) * grid[1] + Math.floor((i % cols) / BLOCKS[1])];
      let best = 0;
      for (let b = 0; b < 256; b++) if (!Number.isNaN(codes[b]) && Math.abs(codes[b] * scale - data[i]) < Math.abs(codes[best] * scale - data[i])) best = b;
      q[i] = best;
      values[i] = codes[best] * scale;
    }
    fp8[name] = { dtype: 'F8_E4M3', shape: entry.shape, data: q };
    fp8[`${name}_scale_inv`] =
      scaleDtype === 'F32' ? { dtype: 'F32', shape: grid, data: storedScales } : { dtype: 'BF16', shape: grid, data: Uint16Array.from(new Uint32Array(storedScales.buffer), (bits) => bits >>> 16) };
    dequantized[name] = { dtype: 'F32', shape: entry.shape, data: values };
  }
  const config = JSON.parse(new TextDecoder().decode(files['config.json']));
  const quantization = { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: BLOCKS };
  const write = (tensors: Record<string, Stored>, extra: object) => ({
    ...files,
    'config.json': new TextEncoder().encode(JSON.stringify({ ...config, ...extra })),
    'model.safetensors': serializeSafetensors(tensors as Parameters<typeof serializeSafetensors>[0]),
  });
  return { fp8: write(fp8, { quantization_config: quantization }), dequantized: write(dequantized, {}) };
}

describe('block FP8 checkpoints', () => {
  it('decodes every e4m3 byte as its bits define it (subnormals, ±448, NaN at ±0x7f)', () => {
    const values = e4m3Values();
    for (let b = 0; b < 256; b++) {
      if (Number.isNaN(e4m3FromBits(b))) expect(values[b], `0x${b.toString(16)}`).toBeNaN();
      else expect(values[b], `0x${b.toString(16)}`).toBe(e4m3FromBits(b));
    }
    expect([values[0x7e], values[0xfe], values[0x38], values[0x01], values[0x08]]).toEqual([448, -448, 1, 2 ** -9, 2 ** -6]);
  });

  it('loads DeepSeek-V3 quantized in uneven blocks, scales in f32 or bf16: the logits of its dequantized weights, not the unquantized ones', async () => {
    const ref = readReference(FIXTURE);
    const unquantized = rows(ref.logits, 0, ref.ids.length);
    for (const scaleDtype of ['F32', 'BF16'] as const) {
      const { fp8, dequantized } = quantizedFixture(scaleDtype);
      const got = await referenceIdLogits(FIXTURE, fp8);
      expect(relativeError(got, await referenceIdLogits(FIXTURE, dequantized)), scaleDtype).toBeLessThan(1e-6);
      expect(relativeError(got, unquantized), scaleDtype).toBeGreaterThan(1e-4);
    }
  });

  it('refuses FP8 it cannot read, naming the field or the tensor', async () => {
    const base = { model_type: 'qwen3', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 128, vocab_size: 100 };
    const fp8 = (over: object) => ({ ...base, quantization_config: { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 128], ...over } });
    expect(parseModelConfig(fp8({})).fp8WeightBlocks).toEqual([128, 128]);
    expectKvkitError(() => parseModelConfig(fp8({ weight_block_size: null })), 'UNSUPPORTED_MODEL', /weight_block_size = null/);
    expectKvkitError(() => parseModelConfig(fp8({ weight_block_size: [128, 0] })), 'INVALID_CONFIG', /weight_block_size must be two positive integers/);
    expectKvkitError(() => parseModelConfig(fp8({ activation_scheme: 'static' })), 'UNSUPPORTED_MODEL', /activation_scheme = "static"/);
    expectKvkitError(() => parseModelConfig(fp8({ fmt: 'e5m2' })), 'UNSUPPORTED_MODEL', /fmt = "e5m2"/);
    expectKvkitError(() => parseModelConfig({ ...base, quantization_config: { quant_method: 'awq', bits: 4 } }), 'UNSUPPORTED_MODEL', /quantization_config = "awq"/);

    const { fp8: files } = quantizedFixture('F32');
    const config = JSON.parse(new TextDecoder().decode(files['config.json']));
    const { quantization_config: _, ...unquantized } = config;
    const rewritten = (cfg: object) => ({ ...files, 'config.json': new TextEncoder().encode(JSON.stringify(cfg)) });
    await expect(loadModel({ files: rewritten(unquantized) })).rejects.toThrow(/is F8_E4M3, but config.json has no FP8 quantization_config/);
    await expect(loadModel({ files: rewritten({ ...config, quantization_config: { ...config.quantization_config, weight_block_size: [8, 8] } }) })).rejects.toThrow(
      /q_a_proj.weight_scale_inv" has shape \[1, 3\], but config.json implies \[2, 6\]/,
    );
    // A NaN code (0x7f) in a matrix is a corrupt file.
    const file = parseSafetensors(files['model.safetensors'], 'model.safetensors');
    const tensors = Object.fromEntries([...file.tensors].map(([name, entry]) => [name, { dtype: entry.dtype, shape: entry.shape, data: entry.dtype === 'F8_E4M3' ? readSafetensorsData(file, entry) : readFloat32(file, entry) }]));
    const name = 'model.layers.0.self_attn.o_proj.weight';
    tensors[name].data[5] = 0x7f;
    await expect(loadModel({ files: { ...files, 'model.safetensors': serializeSafetensors(tensors as Parameters<typeof serializeSafetensors>[0]) } })).rejects.toThrow(/o_proj.weight: entry \[0, 5\] of matrix 0 is not finite/);
  });
});
