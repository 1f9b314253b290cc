import { type Shape, type Tensor, wordsPerRow } from '@kvkit/tensor-core';

/** How a grouped quantizer sees x: rows of its last axis, cut into groups, coded in the packed layout. */
export interface GroupedRows {
  /** Values per row (x's last axis). */
  n: number;
  /** x's leading axes (the codes and parameters keep them). */
  lead: Shape;
  rows: number;
  groups: number;
  /** u32 words of one row's codes. */
  rowWords: number;
}

export function groupedRows(x: Tensor, bits: number, groupSize: number): GroupedRows {
  const n = x.shape[x.rank - 1];
  return { n, lead: x.shape.slice(0, -1), rows: n === 0 ? 0 : x.size / n, groups: Math.ceil(n / groupSize), rowWords: wordsPerRow(n, bits, groupSize) };
}
