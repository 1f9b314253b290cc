import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, parseShardIndex, readFloat32 } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';

// The format itself (parsing, malformed files, serializing, every dtype) is tested in @kvkit/tensor-core,
// where it lives; here: llm's re-exports read real PyTorch checkpoints, and the shard index.
describe('safetensors checkpoints', () => {
  it('reads files written by PyTorch (F32, F16 and BF16)', () => {
    for (const [name, dtype] of [
      ['llama', 'F32'],
      ['llama-f16', 'F16'],
      ['qwen2-bf16-tied', 'BF16'],
    ] as const) {
      const file = parseSafetensors(new Uint8Array(readFileSync(join(TORCH_REFERENCE, name, 'model.safetensors'))), 'model.safetensors');
      expect(file.metadata).toEqual({ format: 'pt' });
      const embed = file.tensors.get('model.embed_tokens.weight');
      expect(embed).toMatchObject({ dtype, shape: [96, 32] });
      const values = readFloat32(file, embed!);
      expect(values).toHaveLength(96 * 32);
      expect(values.every(Number.isFinite)).toBe(true);
      // Embeddings were drawn from N(0, 1): a loose check that the bytes decoded as numbers, not noise.
      const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
      expect(variance).toBeGreaterThan(0.7);
      expect(variance).toBeLessThan(1.3);
    }
  });

  it('parses a shard index and refuses a malformed one', () => {
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
    const index = parseShardIndex(enc({ metadata: { total_size: 10 }, weight_map: { a: 'm-1.safetensors', b: 'm-2.safetensors', c: 'm-1.safetensors' } }));
    expect(index.shards).toEqual(['m-1.safetensors', 'm-2.safetensors']);
    expect(index.weightMap.get('b')).toBe('m-2.safetensors');
    const bad = (value: Uint8Array, pattern: RegExp): void => {
      expect(expectKvkitError(() => parseShardIndex(value), 'CORRUPT_MODEL_FILE', pattern).message).toMatch(/^model\.safetensors\.index\.json: /);
    };
    bad(new TextEncoder().encode('{"weight_map": '), /is not valid JSON/);
    bad(enc({ metadata: {} }), /needs a "weight_map" object/);
    bad(enc({ weight_map: {} }), /weight_map is empty/);
    bad(enc({ weight_map: { a: '../secret.safetensors' } }), /weight_map entry "a" must name a shard file in the same directory/);
    bad(enc({ weight_map: { a: 7 } }), /must name a shard file/);
  });
});
