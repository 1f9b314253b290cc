import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './random-model.js';

const cli = join(import.meta.dirname, '..', 'dist', 'cli.js');
const fixture = (name: string) => join(REPO_ROOT, 'packages', 'llm', 'test', 'fixtures', 'torch-reference', name);

// One method of each kind (post-RoPE quantization, pre-RoPE quantization with calibration,
// observation-window eviction, pre-RoPE low rank, partial-RoPE latent attention, cross-layer sharing
// and merging) on @kvkit/llm's PyTorch-reference fixtures of architectures unlike kvkit-tiny's.
const METHODS = 'kivi:group=16:residual=16,kvquant,snapkv,palu,mha2mla,cla,minicache';

describe('kv-bench on other architectures', { timeout: 120_000 }, () => {
  let out: string;
  let text: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'kvbench-arch-'));
    text = join(out, 'text.txt');
    // The fixtures' tokenizer holds the printable ASCII characters only.
    const ascii = readFileSync(join(REPO_ROOT, 'models', 'kvkit-tiny', 'eval', 'test.txt'), 'utf8').replace(/[^\x20-\x7e]/g, ' ');
    writeFileSync(text, ascii.slice(0, 4000));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  const bench = (model: string, json: string, methods = model.endsWith('deepseek-v3') ? METHODS.replace(',palu', '') : METHODS) =>
    spawnSync('node', [cli, '--model', model, '--text', text, '--calibration', text, '--methods', methods, '--windows', '1', '--window-tokens', '48', '--passkey-per-cell', '0', '--workers', '1', '--json', json], {
      encoding: 'utf8',
    });

  // GPT-NeoX: LayerNorms, parallel attention and MLP, a quarter of each head rotating; OLMo 3: per-layer
  // windows with their own rope, q/k norms over the projections, YaRN; Phi-2: one norm for both
  // blocks, 0.4 rotary; StableLM 2: LayerNorms around a SwiGLU MLP, q/k/v biases; Cohere: rotary
  // pairs of neighbouring channels (the interleaved layout through every pre-RoPE cache); GLM-4-0414: the
  // same layout over half of each head, norms around both blocks; Qwen3-MoE: a mixture of experts
  // (3 of 8 per token) in place of the MLP; GPT-2: learned positions, no rotation; StarCoder2: LayerNorms,
  // biases and a window on every layer; EXAONE 4.0: norms after the blocks, sliding layers rotating beside
  // global ones without rotation; ERNIE 4.5 MoE: rotary pairs over the whole head, softmax experts chosen with a
  // correction bias; GLM-4.5: half of each head rotating, sigmoid-routed experts
  // after a dense layer; LFM2: attention on two of four layers, gated short convolutions on the others (the cache holds two layers and the convolutions' state); LFM2-MoE: the
  // same with sigmoid-routed experts chosen with a selection bias; Granite 4.0-H: Mamba-2 mixers on three of four
  // layers (the cache holds one layer, and each Mamba layer's rows and scan state); Nemotron-H: one block per
  // layer, two Mamba-2 mixers, one attention layer and two MLP layers; Falcon-H1: attention and a Mamba-2 mixer
  // side by side on both layers (the cache holds both, and each layer's state); Qwen3.5: Gated DeltaNet on three
  // layers, gated full attention on the fourth; Qwen3-Next: the same on alternate layers, with experts; Jamba: Mamba-1
  // mixers and attention without rotation on alternate layers, experts on two; gpt-oss: a learned sink in every head's softmax
  // (each method's log-sum-exp scales its output), sliding and global layers in turn, MXFP4 experts with a clamped SwiGLU;
  // Apertus: per-head q/k norms and an ungated MLP with the learned xIELU activation; OLMo 1: LayerNorms without
  // parameters, q/k/v clamped by clip_qkv; DeepSeek-V3: latent attention (one cached head of rotated key + latent, which
  // every method compresses; MHA2MLA fitted from activations), experts within the best groups; Llama 4 (Maverick as
  // released): layers without rotation, experts whose router scales their input, interleaved with dense layers.
  const hybrids = ['lfm2', 'granite4', 'nemotron', 'falcon', 'qwen3_5', 'qwen3-next', 'jamba'];
  const oneAttentionLayer = ['granite4-hybrid-moe', 'nemotron-h', 'qwen3_5-hybrid'];
  for (const name of ['pythia-neox', 'olmo3-sliding-yarn', 'phi2-parallel', 'stablelm2-layernorm', 'cohere-parallel', 'glm4-sandwich', 'qwen3-moe', 'gpt2', 'starcoder2', 'exaone4-hybrid', 'ernie4_5-moe', 'glm4-moe', 'lfm2-conv-bias', 'lfm2-moe', 'granite4-hybrid-moe', 'nemotron-h', 'falcon-h1', 'qwen3_5-hybrid', 'qwen3-next', 'jamba', 'gpt-oss', 'apertus-xielu', 'olmo-clip', 'deepseek-v3', 'llama4-maverick']) {
    it(`${name}: every kind of method runs and reports finite quality and resident bytes`, () => {
      const json = join(out, `${name}.json`);
      const run = bench(fixture(name), json);
      expect(run.status, run.stderr).toBe(0);
      const { records } = JSON.parse(readFileSync(json, 'utf8'));
      // Palu decomposes each layer's W_k / W_v, which DeepSeek's latent attention does not have (see below).
      const latent = name.startsWith('deepseek');
      const expected = ['dense', 'kivi', 'kvquant', 'snapkv', 'palu', 'mha2mla', 'cla', 'minicache'].filter((method) => !(latent && method === 'palu'));
      expect(records.map((r: { method: string }) => r.method)).toEqual(expected);
      for (const r of records) {
        expect(Number.isFinite(r.ppl) && r.ppl > 1, `${name} ${r.method} ppl ${r.ppl}`).toBe(true);
        expect(Number.isFinite(r.kl) && r.kl >= 0, `${name} ${r.method} KL ${r.kl}`).toBe(true);
        expect(r.kvBytes).toBeGreaterThan(0);
      }
      // The compressed rows hold fewer bytes than the dense baseline; with a single attention layer
      // (granite4-hybrid-moe, nemotron-h, qwen3_5-hybrid) the cross-layer methods have nothing to share and hold what it holds.
      const single = oneAttentionLayer.includes(name);
      for (const r of records.slice(1)) {
        // MHA2MLA's own K and V projections cannot beat DeepSeek's latent, cached once already: it holds more.
        if (latent && r.method === 'mha2mla') expect(r.kvBytes, `${name} ${r.method}`).toBeGreaterThan(records[0].kvBytes);
        else if (single && ['cla', 'minicache'].includes(r.method)) expect(r.kvBytes, `${name} ${r.method}`).toBeLessThanOrEqual(records[0].kvBytes);
        else expect(r.kvBytes, `${name} ${r.method}`).toBeLessThan(records[0].kvBytes);
      }
      // A hybrid's recurrent state sits beside every method's K/V, the same bytes each time, and counts in the f16 baseline too.
      const recurrent = records.map((r: { kvParts: Record<string, number> }) => r.kvParts.recurrent ?? 0);
      expect(new Set(recurrent).size, `${name} recurrent bytes ${recurrent}`).toBe(1);
      expect(recurrent[0] > 0).toBe(hybrids.some((family) => name.startsWith(family)));
    });
  }

  it('refuses Palu on DeepSeek’s latent attention, which has no W_k / W_v to decompose, naming what is missing', () => {
    const run = bench(fixture('deepseek-v3'), join(out, 'deepseek-palu.json'), 'palu');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/fitProjections: layer 0 has no W_k/);
  });

  it('refuses a pre-RoPE cache where LongRoPE switches to its long factors (Phi-4-mini style), naming why', () => {
    const run = bench(fixture('phi4-longrope'), join(out, 'phi4.json'));
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/beyond the original context of 8 where LongRoPE rotates with its long factors; a cache that keeps keys before RoPE/);
    // Post-RoPE caches run there.
    const post = execFileSync(
      'node',
      [cli, '--model', fixture('phi4-longrope'), '--text', text, '--methods', 'kivi:group=16:residual=16,snapkv', '--windows', '1', '--window-tokens', '48', '--passkey-per-cell', '0', '--workers', '1'],
      { encoding: 'utf8' },
    );
    expect(post).toMatch(/^snapkv\s+\d/m);
  });

  it('--config-overrides replaces config.json fields in the main thread and every worker (YaRN off here), and refuses what is not a JSON object', () => {
    const run = (extra: string[]) => {
      const json = join(out, `overrides${extra.length}.json`);
      const args = ['--model', fixture('smollm3-yarn'), '--text', text, '--methods', 'dense,snapkv', '--windows', '1', '--window-tokens', '48', '--passkey-per-cell', '0'];
      execFileSync('node', [cli, ...args, '--workers', '2', '--json', json, ...extra], { encoding: 'utf8' });
      return JSON.parse(readFileSync(json, 'utf8'));
    };
    const [asIs, noYarn] = [run([]), run(['--config-overrides', '{"rope_scaling":null}'])];
    expect([asIs.configOverrides, noYarn.configOverrides]).toEqual([{}, { rope_scaling: null }]);
    // Both rows of each run came from a model with the same rope: the workers read the override too.
    for (const i of [0, 1]) expect(noYarn.records[i].ppl, asIs.records[i].method).not.toBeCloseTo(asIs.records[i].ppl, 6);
    const bad = spawnSync('node', [cli, '--model', fixture('smollm3-yarn'), '--methods', 'dense', '--config-overrides', '[1]'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--config-overrides must be a JSON object of config\.json fields/);
  });

  it('refuses passkey prompts that do not fit a short context, saying how long the template is', () => {
    const run = spawnSync('node', [cli, '--model', fixture('pythia-neox'), '--text', text, '--methods', 'dense', '--windows', '1', '--window-tokens', '32', '--passkey-lengths', '32', '--workers', '1'], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/passkey prompts of 32 tokens do not fit the model's context of 64: the template alone takes \d+ tokens/);
  });
});
