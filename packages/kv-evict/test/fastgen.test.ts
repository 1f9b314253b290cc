import { tensor } from '@kvkit/tensor-core';
import { describe, expect, it } from 'vitest';
import { type CompressingLayer, fastGen, FASTGEN_POLICIES, raggedDenseStore, tokenClassesFromVocabulary } from '../src/index.js';
import { backend, layerSpec, positions } from './helpers.js';

const n = 24;
const d = 32;
const A = Math.sqrt(20 * Math.sqrt(d)); // a matching key/query pair scores 20
const PUNCT = [1, 5, 11, 17];
const tokenIds = Int32Array.from({ length: n }, (_, j) => (j === 0 ? 1 : PUNCT.includes(j) ? 2 : 10 + j));

/**
 * Four KV heads with textbook patterns: head 0 attends to BOS only, head 1 to punctuation, head 2 to
 * the query's own token (local), head 3 uniformly (q = 0).
 */
function buildPrompt() {
  const k = new Float32Array(4 * n * d);
  const q = new Float32Array(4 * n * d);
  const set = (arr: Float32Array, head: number, token: number, axis: number) => (arr[(head * n + token) * d + axis] = A);
  set(k, 0, 0, 0);
  for (let i = 0; i < n; i++) set(q, 0, i, 0);
  for (const j of PUNCT) set(k, 1, j, 1);
  for (let i = 0; i < n; i++) set(q, 1, i, 1);
  for (let j = 0; j < n; j++) {
    set(k, 2, j, 2 + (j % 30));
    set(q, 2, j, 2 + (j % 30));
  }
  return { k: tensor(k, [4, n, d], { backend }), q: tensor(q, [4, n, d], { backend }) };
}

/** A FastGen layer (threshold 0.95) that has profiled and compressed the prompt of `buildPrompt`. */
function profiledLayer(): CompressingLayer {
  const layer = fastGen({ specialTokenIds: [1], punctuationTokenIds: [2], threshold: 0.95, store: raggedDenseStore({ dtype: 'f32' }) })(
    layerSpec({ qHeads: 4, kvHeads: 4, headDim: d }),
  ) as CompressingLayer;
  const { k, q } = buildPrompt();
  layer.append(k, k, { positions: positions(0, n), phase: 'prefill', tokenIds });
  layer.attend(q, { positions: positions(0, n) });
  return layer;
}

describe('FastGen', () => {
  it('profiles each head on the prompt and gives it the cheapest policy that recovers the threshold', () => {
    const layer = profiledLayer();
    const info = layer.describe() as { headPolicies: string[]; recovery: number[][] };
    expect(info.headPolicies).toEqual(['special', 'punctuation', 'local', 'full']);
    expect(info.recovery[0][FASTGEN_POLICIES.indexOf('special')]).toBeGreaterThan(0.999);
    expect(info.recovery[1][FASTGEN_POLICIES.indexOf('special')]).toBeLessThan(0.1);
    expect(info.recovery[3][FASTGEN_POLICIES.indexOf('local')]).toBeLessThan(0.95);
    // Kept sets: BOS; BOS + punctuation; BOS + punctuation + 8 earliest heavy hitters (flat profile) + last 8; all.
    expect([...layer.storedPositions(0)]).toEqual([0]);
    expect([...layer.storedPositions(1)]).toEqual([0, ...PUNCT]);
    expect([...layer.storedPositions(2)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 11, 16, 17, 18, 19, 20, 21, 22, 23]);
    expect(layer.storedPositions(3)).toHaveLength(n);

    // While decoding the policies stay: a new ordinary token is dropped by the special head at once,
    // a new punctuation token is kept by the punctuation head.
    for (const [t, id] of [
      [n, 50],
      [n + 1, 2],
    ] as const) {
      const kk = tensor(new Float32Array(4 * d), [4, 1, d], { backend });
      layer.append(kk, kk, { positions: positions(t, 1), phase: 'decode', tokenIds: Int32Array.of(id) });
      layer.attend(tensor(new Float32Array(4 * d), [4, 1, d], { backend }), { positions: positions(t, 1) });
    }
    expect([...layer.storedPositions(0)]).toEqual([0]);
    expect([...layer.storedPositions(1)]).toEqual([0, ...PUNCT, n + 1]);
    expect(layer.storedPositions(3)).toHaveLength(n + 2);
  });

  it('sizes the local window and the heavy hitters by the tokens seen while decoding, not by the tokens still held', () => {
    // FastGen's ratios are of the sequence so far: a head under the local policy keeps the last
    // ⌈0.3 · seen⌉ positions at every step. Sized by the tokens it still holds, the window would
    // shrink by 30% a step and collapse to a handful of tokens.
    const layer = profiledLayer();
    expect((layer.describe() as { headPolicies: string[] }).headPolicies[2]).toBe('local');
    const steps = 40;
    for (let t = n; t < n + steps; t++) {
      const kk = tensor(new Float32Array(4 * d), [4, 1, d], { backend });
      layer.append(kk, kk, { positions: positions(t, 1), phase: 'decode', tokenIds: Int32Array.of(50) });
      layer.attend(tensor(new Float32Array(4 * d), [4, 1, d], { backend }), { positions: positions(t, 1) });
      const seen = t + 1;
      const window = Math.ceil(0.3 * seen);
      const held = [...layer.storedPositions(2)];
      expect(held.slice(-window)).toEqual([...positions(seen - window, window)]);
      // BOS and the punctuation stay; the rest outside the window are at most ⌈0.3 · seen⌉ heavy hitters.
      expect(held).toEqual(expect.arrayContaining([0, ...PUNCT]));
      const heavy = held.filter((p) => p < seen - window && p !== 0 && !PUNCT.includes(p));
      expect(heavy.length).toBeLessThanOrEqual(Math.ceil(0.3 * seen));
      expect(heavy.length).toBeGreaterThanOrEqual(Math.ceil(0.3 * seen) - window - 1 - PUNCT.length);
    }
  });

  it('finds special and punctuation tokens in a byte-level BPE vocabulary', () => {
    const vocab = ['<|endoftext|>', 'Ġthe', '.', 'Ġ,', 'Ċ', 'ĊĊ', 'hello', '<s>', "'s", 'Ġ...', '<'];
    const { special, punctuation } = tokenClassesFromVocabulary(vocab);
    expect([...special]).toEqual([0, 7]);
    expect([...punctuation]).toEqual([2, 3, 4, 5, 9]); // '<' is a symbol, not punctuation
  });
});
