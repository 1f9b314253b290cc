import { createRng, type Rng, type Tensor, tensor } from '@kvkit/tensor-core';
import type { PrefixSequence } from '../../src/index.js';

/** KV heads and head dim of the prefix-tree tests. */
export const [KV, D] = [2, 32];

/** K/V [KV, n, D] as a deterministic function of (token, position): what a model computes for a shared prefix. */
export function kvOf(tokens: ArrayLike<number>, positions: ArrayLike<number>, salt: number): { k: Tensor; v: Tensor } {
  const n = tokens.length;
  const k = new Float32Array(KV * n * D);
  const v = new Float32Array(KV * n * D);
  for (let t = 0; t < n; t++) {
    const rng = createRng((tokens[t] * 7919 + positions[t] * 104729 + salt) >>> 0);
    for (let h = 0; h < KV; h++) for (let c = 0; c < D; c++) {
      k[(h * n + t) * D + c] = rng.normal();
      v[(h * n + t) * D + c] = rng.normal();
    }
  }
  return { k: tensor(k, [KV, n, D]), v: tensor(v, [KV, n, D]) };
}

export function randomTokens(rng: Rng, n: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(50));
}

/** A request: tokens appended so far (mirror of what its sequence must hold). */
export interface Request {
  seq: PrefixSequence;
  tokens: number[];
  positions: number[];
}

/** Appends `tokens` at the next positions to the request's sequence (K/V from `kvOf`). */
export function appendTokens(r: Request, tokens: Int32Array, salt = 0): void {
  const positions = Int32Array.from(tokens, (_, i) => r.positions.length + i);
  const { k, v } = kvOf(tokens, positions, salt);
  r.seq.append(k, v, positions, tokens);
  r.tokens.push(...tokens);
  r.positions.push(...positions);
}
