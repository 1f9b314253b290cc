import { markProtected, type Protection } from './protection.js';

/**
 * The storage indices (ascending) a head keeps: the protected tokens, then the highest scores until
 * `budget` tokens. Ties keep the more recent token; NaN scores count as the lowest.
 */
export function selectTopK(scores: ArrayLike<number>, budget: number, protection: Protection): Int32Array {
  const count = scores.length;
  if (budget >= count) return Int32Array.from({ length: count }, (_, i) => i);
  const marks = new Uint8Array(count);
  let kept = markProtected(count, budget, protection, marks);
  if (kept < budget) {
    for (const i of rankByScore(scores, marks)) {
      if (kept === budget) break;
      marks[i] = 1;
      kept++;
    }
  }
  return indicesOf(marks, kept);
}

/** Unmarked indices, best score first (ties: higher index first). */
export function rankByScore(scores: ArrayLike<number>, marks?: Uint8Array): Int32Array {
  const candidates: number[] = [];
  for (let i = 0; i < scores.length; i++) if (!marks || !marks[i]) candidates.push(i);
  const value = (i: number): number => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  candidates.sort((a, b) => value(b) - value(a) || b - a);
  return Int32Array.from(candidates);
}

/** The ascending indices whose mark is set. */
export function indicesOf(marks: Uint8Array, count = marks.reduce((s, m) => s + (m ? 1 : 0), 0)): Int32Array {
  const out = new Int32Array(count);
  let k = 0;
  for (let i = 0; i < marks.length; i++) if (marks[i]) out[k++] = i;
  return out;
}
