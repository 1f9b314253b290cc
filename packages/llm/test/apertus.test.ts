// Swiss AI Apertus: Llama with per-head q/k norms, pre-norms of its own names and an ungated MLP
// with the learned xIELU activation. Its configs and xIELU against its definition; logits against
// the PyTorch reference are checked in torch-reference-parity.test.ts (CPU), webgpu.test.ts and
// cuda-emulator.test.ts.
import { join } from 'node:path';
import { cpuBackend, tensor, TensorScope } from '@kvkit/tensor-core';
import { assertClose, relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/index.js';
import { xielu } from '../src/xielu.js';
import { editedCheckpoint, referenceIdLogits, zeroing } from './helpers/edited-checkpoint.js';
import { expectKvkitError } from './helpers/errors.js';
import { filesOf, readReference, rows, TORCH_REFERENCE } from './helpers/fixtures.js';

// The fields of swiss-ai/Apertus-8B-Instruct-2509's config.json that the runtime reads.
const APERTUS_8B = {
  architectures: ['ApertusForCausalLM'],
  attention_bias: false,
  bos_token_id: 1,
  eos_token_id: 68,
  hidden_act: 'xielu',
  hidden_size: 4096,
  intermediate_size: 21504,
  max_position_embeddings: 65536,
  model_type: 'apertus',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 8.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 12000000,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  vocab_size: 131072,
};

/** xIELU as transformers writes it, in float64. */
function xieluDefinition(x: number, p: { alphaP: number; alphaN: number; beta: number; eps: number }): number {
  const softplus = (v: number) => Math.log1p(Math.exp(v));
  const alphaP = softplus(p.alphaP);
  const alphaN = p.beta + softplus(p.alphaN);
  return x > 0 ? alphaP * x * x + p.beta * x : (Math.expm1(Math.min(x, p.eps)) - x) * alphaN + p.beta * x;
}

describe('Apertus configs', () => {
  it('reads Apertus-8B: per-head q/k norms, an ungated xIELU MLP, llama3 rope at base 12e6', () => {
    const c = parseModelConfig(APERTUS_8B);
    expect(c).toMatchObject({ qkNorm: 'head', gatedMlp: false, mlpActivation: 'xielu', headDim: 128, numKvHeads: 8, ropeTheta: 12e6, tieWordEmbeddings: false });
    expect(c.ropeScaling).toMatchObject({ type: 'llama3', factor: 8, originalMaxPositionEmbeddings: 8192 });
    // ApertusConfig's default rope where the config gives none.
    const { rope_scaling: _r, rope_theta: _t, ...bare } = APERTUS_8B;
    expect(parseModelConfig(bare)).toMatchObject({ ropeTheta: 12e6, ropeScaling: { type: 'llama3', factor: 8 } });
  });

  it('refuses another activation with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...APERTUS_8B, hidden_act: 'silu' }), 'UNSUPPORTED_MODEL', /hidden_act = "silu" is not supported; supported: xielu/);
  });
});

describe('Apertus on the CPU (apertus-xielu: 2 layers, one dead MLP unit per layer whose input is exactly 0)', () => {
  const dir = join(TORCH_REFERENCE, 'apertus-xielu');
  const ref = readReference(dir);
  const differs = async (files: Record<string, Uint8Array>) => relativeError(await referenceIdLogits(dir, files), rows(ref.logits, 0, ref.ids.length));

  it('reads each layer\'s xIELU parameters: alpha_p and alpha_n, and eps, which the dead unit turns into a logit change of 2e-5 or more', async () => {
    expect(await differs(filesOf(dir))).toBeLessThan(1e-5);
    for (const name of ['act_fn.alpha_p', 'act_fn.alpha_n', 'act_fn.beta']) expect(await differs(editedCheckpoint(dir, zeroing(name))), name).toBeGreaterThan(1e-2);
    // ε = 0: expm1(min(0, ε)) at the dead unit's 0 becomes 0 instead of ≈ −1e-6·αn.
    expect(await differs(editedCheckpoint(dir, zeroing('act_fn.eps')))).toBeGreaterThan(2e-5);
  });
});

describe('xIELU', () => {
  it('matches its definition on both branches, between ε and 0 and at 0, in f32 and f16', () =>
    withSeed((rng) => {
      const p = { alphaP: 0.3 + rng.uniform(), alphaN: -1 + rng.uniform(), beta: 0.5, eps: -1e-6 };
      const values = Float32Array.from([0, -5e-7, -1e-6, -2e-6, 1e-30, -1e-30, 1e-3, -1e-3, 40, -40, ...Array.from({ length: 200 }, () => 3 * rng.normal())]);
      for (const dtype of ['f32', 'f16'] as const) {
        const scope = new TensorScope();
        try {
          const input = scope.track(tensor(values, [values.length], { dtype, backend: cpuBackend() }));
          const got = xielu(input, p, scope).readFloat32Sync();
          const expected = Array.from(input.readFloat32Sync(), (x) => xieluDefinition(x, p));
          // f32: the activation's own rounding; f16: each op's (|x| up to 40 → values up to ~1e3).
          assertClose(got, expected, dtype === 'f32' ? 1e-6 : 2e-3, `${dtype} xIELU`);
          if (dtype === 'f32') for (let i = 0; i < 10; i++) expect(Math.abs(got[i] - expected[i]), `x = ${values[i]}`).toBeLessThan(1e-6 * Math.max(1, Math.abs(expected[i])));
        } finally {
          scope.dispose();
        }
      }
    }));
});
