import { InvalidConfigError } from '@kvkit/tensor-core';
import type { GroupBasis } from './projection-set.js';

/**
 * Share of the energy a rank-r prefix of a basis keeps: Σ_{i<r} λ_i / Σ_all λ_i (1 for an all-zero
 * group, which any rank reproduces exactly).
 */
export function capturedEnergy(group: GroupBasis, rank: number): number {
  if (!Number.isInteger(rank) || rank < 0 || rank > group.basis.cols) {
    throw new InvalidConfigError(`capturedEnergy: rank must be an integer in [0, ${group.basis.cols}], got ${rank}`);
  }
  if (group.totalEnergy === 0) return 1;
  let kept = 0;
  for (let i = 0; i < rank; i++) kept += group.spectrum[i];
  return Math.min(1, kept / group.totalEnergy);
}

/** The smallest rank whose captured energy reaches `target` (Eigen Attention's per-layer threshold). */
export function rankForEnergy(group: GroupBasis, target: number): number {
  if (!(target > 0 && target <= 1)) throw new InvalidConfigError(`rankForEnergy: target must be in (0, 1], got ${target}`);
  for (let r = 1; r <= group.basis.cols; r++) if (capturedEnergy(group, r) >= target - 1e-12) return r;
  return group.basis.cols;
}
