import type { TokenScorer } from './scorer.js';

/**
 * The L2-norm scorer (Devoto et al., 2024): keys with a low L2 norm tend to receive high attention,
 * so a token is worth −‖k‖. Computed once when the token arrives; needs no attention at all.
 */
export function keyNormScorer(headDim: number): TokenScorer {
  return {
    name: 'l2norm',
    columns: [{ name: 'keyNorm' }],
    needsKeys: true,
    observation: () => undefined,
    onAppend: (head, first, n, table, keys) => {
      const norms = table.column(head, 'keyNorm');
      for (let t = 0; t < n; t++) {
        let s = 0;
        for (let c = 0; c < headDim; c++) s += keys![t * headDim + c] ** 2;
        norms[first + t] = Math.sqrt(s);
      }
    },
    scores: (head, table) => Float64Array.from(table.column(head, 'keyNorm'), (norm) => -norm),
  };
}
