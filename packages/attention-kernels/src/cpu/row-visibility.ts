import type { QueryBlock } from './tile-source.js';

/** Mask attributes, as resolved by tensor-core's `resolveAttentionMask`. */
export interface MaskAttrs {
  causal: boolean;
  window: number;
  softcap: number;
}

/** A row's class against a tile of keys: it sees none of them, all of them, or some (test each key). */
export const HIDDEN = 0;
export const FULL = 1;
export const PARTIAL = 2;

/**
 * Classifies every row against the tile's position range [pMin, pMax] into `active`: hidden
 * (skip), fully visible (no per-key test) or partial. Returns whether any row sees the tile.
 * `onlyStatRows` hides rows outside the statistics' observation window.
 */
export function classifyRows(block: QueryBlock, mask: MaskAttrs, pMin: number, pMax: number, active: Uint8Array, onlyStatRows: boolean): boolean {
  const { causal, window } = mask;
  let any = false;
  for (let r = 0; r < block.rows; r++) {
    if (onlyStatRows && block.contributes[r] === 0) {
      active[r] = HIDDEN;
      continue;
    }
    const qp = block.pos[r];
    let cls: number;
    if ((causal && pMin > qp) || (window > 0 && qp - pMax >= window)) cls = HIDDEN;
    else if ((!causal || pMax <= qp) && (window === 0 || qp - pMin < window)) cls = FULL;
    else cls = PARTIAL;
    active[r] = cls;
    if (cls !== HIDDEN) any = true;
  }
  return any;
}

/** The smallest and largest of positions[from … from + count). */
export function positionRange(positions: Int32Array, from: number, count: number): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let t = 0; t < count; t++) {
    const p = positions[from + t];
    if (p < lo) lo = p;
    if (p > hi) hi = p;
  }
  return [lo, hi];
}
