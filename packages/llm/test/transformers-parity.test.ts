// Parity with Hugging Face transformers itself. The fixtures are made on the GPU machine by
// tooling/gpu/llm-parity.sh (random-initialized tiny models of every architecture, saved with
// save_pretrained, logits from transformers' eager attention and its own KV cache) and copied into
// test/fixtures/transformers/. Until then these tests are skipped, saying so.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertClose } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { generate, loadModel, loadTokenizer } from '../src/index.js';
import { KVKIT_TINY, TRANSFORMERS_REFERENCE } from './helpers/fixtures.js';

interface TransformersReference {
  source: string;
  weights_dtype: string;
  prompt_tokens: number;
  ids: number[];
  prefill_logits: number[][];
  decode_logits: number[][];
  full_logits: number[][];
  greedy: { ids: number[]; min_top2_gap: number };
  native?: { dtype: string; device: string; full_logits: number[][] };
}

const present = existsSync(TRANSFORMERS_REFERENCE);
const architectures = present
  ? readdirSync(TRANSFORMERS_REFERENCE, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort()
  : [];
const flat = (m: number[][]): Float64Array => Float64Array.from(m.flat());

if (!present) {
  console.warn(
    `[@kvkit/llm] SKIPPED: transformers parity — ${TRANSFORMERS_REFERENCE} is absent. ` +
      'Generate it on the GPU machine with tooling/gpu/llm-parity.sh (see the script header).',
  );
}

describe('parity with Hugging Face transformers', () => {
  if (!present) it.skip('SKIPPED: fixtures absent (run tooling/gpu/llm-parity.sh on the GPU machine, unpack into test/fixtures/)', () => {});

  it.runIf(present)('covers every architecture variant', () => {
    expect(architectures).toEqual(
      expect.arrayContaining(['llama', 'llama-f16', 'llama-mqa-bias', 'llama-sharded', 'llama3-rope', 'mistral-sliding', 'qwen2-bf16-tied', 'qwen2-bias', 'smollm-tied']),
    );
  });

  for (const name of architectures) {
    it(`${name}: prefill and cached decode logits within 1e-4 of transformers, same greedy tokens`, async () => {
      const dir = join(TRANSFORMERS_REFERENCE, name);
      const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as TransformersReference;
      const model = await loadModel(dir, { tokenizer: false });
      const cache = model.createCache();
      try {
        const ids = Int32Array.from(ref.ids);
        const p = ref.prompt_tokens;
        const prefill = model.forward(ids.subarray(0, p), cache);
        assertClose(prefill.readFloat32Sync(), flat(ref.prefill_logits), 1e-4, `${name} prefill (${ref.source})`);
        prefill.dispose();
        for (let t = p; t < ids.length; t++) {
          const step = model.forward(ids.subarray(t, t + 1), cache, { logits: 'last' });
          assertClose(step.readFloat32Sync(), flat([ref.decode_logits[t - p]]), 1e-4, `${name} decode position ${t}`);
          step.dispose();
        }
        if (ref.native) {
          // transformers computing in f16/bf16 itself: a loose bound, the reduced precision is on its side.
          const fresh = model.createCache();
          const all = model.forward(ids, fresh);
          assertClose(all.readFloat32Sync(), flat(ref.native.full_logits), 5e-2, `${name} vs ${ref.native.dtype} compute on ${ref.native.device}`);
          all.dispose();
          fresh.dispose();
        }
        if (ref.greedy.min_top2_gap > 1e-3) {
          const result = await generate(model, ids.subarray(0, p), { maxNewTokens: ref.greedy.ids.length, ignoreEos: true });
          expect(Array.from(result.ids)).toEqual(ref.greedy.ids);
        }
      } finally {
        cache.dispose();
        model.dispose();
      }
    });
  }

  it.runIf(present && existsSync(join(TRANSFORMERS_REFERENCE, 'tokenizer-kvkit-tiny.json')))(
    'encodes and decodes like the Rust tokenizers library (models/kvkit-tiny)',
    async () => {
      const ref = JSON.parse(readFileSync(join(TRANSFORMERS_REFERENCE, 'tokenizer-kvkit-tiny.json'), 'utf8')) as {
        texts: { text: string; ids: number[]; decoded: string }[];
      };
      const tokenizer = await loadTokenizer(KVKIT_TINY);
      for (const { text, ids, decoded } of ref.texts) {
        expect(Array.from(tokenizer.encode(text)), JSON.stringify(text)).toEqual(ids);
        expect(tokenizer.decode(ids)).toBe(decoded);
      }
    },
  );
});
