import { createRng } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { argmax, Sampler, StopCriteria } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';

/** softmax(logits / t) in float64. */
function softmax(logits: number[], t: number): number[] {
  const m = Math.max(...logits);
  const e = logits.map((l) => Math.exp((l - m) / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** HF's TopPLogitsWarper, from its definition: sort ascending, drop tokens whose cumulative mass is <= 1 − p. */
function hfTopPKept(probs: number[], p: number): Set<number> {
  const order = probs.map((_, i) => i).sort((a, b) => probs[a] - probs[b]);
  const kept = new Set<number>();
  let cumulative = 0;
  order.forEach((id, rank) => {
    cumulative += probs[id];
    if (cumulative > 1 - p || rank === order.length - 1) kept.add(id);
  });
  return kept;
}

/** Empirical frequencies of `draws` samples. */
function frequencies(sampler: Sampler, logits: Float32Array, draws: number): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[sampler.sample(logits)] += 1;
  return counts.map((c) => c / draws);
}

/**
 * Every token's count within 5 standard deviations of its expectation, plus 3 draws (a token with
 * p · draws well below 1 may still come up once or twice: the normal bound alone fails there), and
 * zero where the probability is zero.
 */
function expectDistribution(freq: number[], probs: number[], draws: number): void {
  probs.forEach((p, i) => {
    if (p === 0) expect(freq[i]).toBe(0);
    else expect(Math.abs(freq[i] - p) * draws).toBeLessThan(5 * Math.sqrt(draws * p * (1 - p)) + 3);
  });
}

describe('sampler', () => {
  it('is greedy at temperature 0 (first index on ties, NaN never wins)', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax([Number.NaN, -1, -2])).toBe(1);
    const sampler = new Sampler({}, createRng(1));
    expect(sampler.sample(Float32Array.of(0.1, 2, -3, 1.99))).toBe(1);
    expect(new Sampler({ temperature: 0, topK: 2, topP: 0.1 }, createRng(1)).sample(Float32Array.of(0, 0, 5))).toBe(2);
  });

  it('draws from softmax(logits / temperature)', () =>
    withSeed((rng, seed) => {
      const logits = Float32Array.from({ length: 8 }, () => rng.normal() * 2);
      const draws = 20000;
      const freq = frequencies(new Sampler({ temperature: 0.7 }, createRng(seed)), logits, draws);
      expectDistribution(freq, softmax([...logits], 0.7), draws);
    }));

  it('keeps only the top k tokens', () =>
    withSeed((rng, seed) => {
      const logits = Float32Array.from({ length: 10 }, () => rng.normal());
      const top = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, 3);
      const probs = softmax([...logits], 1.3).map((p, i) => (top.includes(i) ? p : 0));
      const total = probs.reduce((a, b) => a + b, 0);
      const draws = 20000;
      expectDistribution(frequencies(new Sampler({ temperature: 1.3, topK: 3 }, createRng(seed)), logits, draws), probs.map((p) => p / total), draws);
    }));

  it('keeps the nucleus as HF’s top-p warper defines it', () =>
    withSeed((rng, seed) => {
      for (const topP of [0.5, 0.8, 0.95]) {
        const logits = Float32Array.from({ length: 12 }, () => rng.normal() * 1.5);
        const probs = softmax([...logits], 1);
        const kept = hfTopPKept(probs, topP);
        const masked = probs.map((p, i) => (kept.has(i) ? p : 0));
        const total = masked.reduce((a, b) => a + b, 0);
        const draws = 20000;
        expectDistribution(frequencies(new Sampler({ temperature: 1, topP }, createRng(seed)), logits, draws), masked.map((p) => p / total), draws);
      }
      // A dominant token alone fills the nucleus.
      expect(new Sampler({ temperature: 1, topP: 0.5 }, createRng(seed)).sample(Float32Array.of(0, 10, 0))).toBe(1);
    }));

  it('keeps what min-p keeps: tokens at least min-p times as likely as the best, after top-k', () =>
    withSeed((rng, seed) => {
      for (const [minP, topK] of [[0.05, 0], [0.3, 0], [0.3, 4]] as const) {
        const logits = Float32Array.from({ length: 12 }, () => rng.normal() * 1.5);
        // HF's MinPLogitsWarper from its definition: softmax of the surviving scores, drop p < min_p · max p.
        const top = [...logits.keys()].sort((a, b) => logits[b] - logits[a]).slice(0, topK || logits.length);
        const probs = softmax([...logits], 0.9).map((p, i) => (top.includes(i) ? p : 0));
        const best = Math.max(...probs);
        const masked = probs.map((p) => (p >= minP * best ? p : 0));
        const total = masked.reduce((a, b) => a + b, 0);
        const draws = 20000;
        const sampler = new Sampler({ temperature: 0.9, minP, topK }, createRng(seed));
        expectDistribution(frequencies(sampler, logits, draws), masked.map((p) => p / total), draws);
      }
      // min-p 1 keeps the best token alone.
      expect(new Sampler({ temperature: 5, minP: 1 }, createRng(seed)).sample(Float32Array.of(0.5, 0.6, 0.4))).toBe(1);
    }));

  it('penalizes the context’s tokens as HF’s repetition penalty: ÷ where positive, × where negative, once per id', () =>
    withSeed((rng, seed) => {
      const logits = Float32Array.from({ length: 10 }, () => rng.normal() * 2);
      const context = [Int32Array.of(1, 4, 4, 7), [4, 9]];
      const penalty = 1.7;
      const expected = [...logits].map((x, i) => ([1, 4, 7, 9].includes(i) ? Math.fround(x < 0 ? x * penalty : x / penalty) : x));
      const draws = 20000;
      expectDistribution(frequencies(new Sampler({ temperature: 1, repetitionPenalty: penalty }, createRng(seed)), logits, draws), softmax([...logits], 1), draws);
      const before = Float32Array.from(logits);
      const withContext = new Sampler({ temperature: 1, repetitionPenalty: penalty }, createRng(seed));
      const counts = new Array<number>(logits.length).fill(0);
      for (let i = 0; i < draws; i++) counts[withContext.sample(logits, context)] += 1;
      expectDistribution(counts.map((c) => c / draws), softmax(expected, 1), draws);
      // Greedy too: the best token, once penalized, loses to the runner-up.
      const greedy = new Sampler({ repetitionPenalty: 2 }, createRng(seed));
      expect(greedy.sample(Float32Array.of(1, 3, 2), [[1]])).toBe(2);
      expect(greedy.sample(Float32Array.of(-1, -3, -2), [[0]])).toBe(0); // −1 · 2 = −2 ties the runner-up: the first wins
      expect(greedy.sample(Float32Array.of(-1, -3, -1.5), [[0]])).toBe(2);
      expect(Array.from(logits)).toEqual(Array.from(before)); // the caller's logits are not changed
    }));

  it('repeats itself for the same seed and differs for another', () => {
    const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const run = (seed: number) => Array.from({ length: 40 }, ((s) => () => s.sample(logits))(new Sampler({ temperature: 1, topK: 20, topP: 0.9 }, createRng(seed))));
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  it('refuses invalid options, naming them', () => {
    const bad = (options: ConstructorParameters<typeof Sampler>[0], pattern: RegExp) =>
      expectKvkitError(() => new Sampler(options, createRng(0)), 'INVALID_CONFIG', pattern);
    bad({ temperature: -1 }, /temperature must be a finite number >= 0/);
    bad({ temperature: Number.NaN }, /temperature/);
    bad({ topK: 1.5 }, /topK must be an integer >= 0/);
    bad({ topP: 0 }, /topP must be in \(0, 1\]/);
    bad({ topP: 1.2 }, /topP must be in \(0, 1\]/);
    bad({ minP: -0.1 }, /minP must be in \[0, 1\]/);
    bad({ minP: 1.5 }, /minP must be in \[0, 1\]/);
    bad({ repetitionPenalty: 0 }, /repetitionPenalty must be a finite number > 0/);
    bad({ repetitionPenalty: Number.POSITIVE_INFINITY }, /repetitionPenalty/);
  });
});

describe('stop criteria', () => {
  it('stops on token ids (EOS by default) and finds the earliest stop string', () => {
    const stop = new StopCriteria(['\n\n', 'END', 7], [0]);
    expect(stop.isStopToken(0)).toBe(true);
    expect(stop.isStopToken(7)).toBe(true);
    expect(stop.isStopToken(1)).toBe(false);
    expect(stop.findStopString('abc END x\n\n')).toBe(4);
    expect(stop.findStopString('no stop here')).toBe(-1);
  });

  it('holds back a possible stop string and an incomplete character from the stream', () => {
    const stop = new StopCriteria(['END', '\n\n']);
    expect(stop.pendingTail('the E')).toBe(1);
    expect(stop.pendingTail('the EN')).toBe(2);
    expect(stop.pendingTail('the ENx')).toBe(0);
    expect(stop.pendingTail('line\n')).toBe(1);
    expect(stop.pendingTail('whale \uFFFD')).toBe(1);
    expect(stop.pendingTail('E\uFFFD')).toBe(2);
    expect(new StopCriteria([]).pendingTail('anything')).toBe(0);
  });

  it('refuses empty strings and bad ids', () => {
    expect(() => new StopCriteria([''])).toThrow(/must not be empty/);
    expect(() => new StopCriteria([-1])).toThrow(/integers >= 0/);
  });
});
