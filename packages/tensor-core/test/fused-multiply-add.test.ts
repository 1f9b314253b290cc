// Dense products with fused multiply-adds (dense.wat's fused variant, picked where the engine has
// relaxed SIMD and the CPU fuses): run in a child Node with relaxed SIMD on (Node 20 needs the flag;
// Node 22+ and Chrome have it), on the built package. Each fused entry must stay within the
// classical rounding bound of the exact dot product, differ from the unfused one somewhere (the fused
// module really served), and come out the same on one thread and two; the mixed-precision solve refines its fused float32
// factorization to float64's backward error.
import { describe, expect, it } from 'vitest';
import { fused as denseFusedWasm } from '../src/simd/dense.wat';
import { fusedMultiplyAddActive, setFusedMultiplyAdd } from '../src/simd/index.js';
import { runRelaxedSimdCheck } from '../src/testing/index.js';

describe('fused multiply-add products', () => {
  it('stay within the rounding bound of the exact products, differ from the unfused ones, and agree across threads; cholesky, eigh and the mixed-precision solve hold', () => {
    const { result: r, label } = runRelaxedSimdCheck(denseFusedWasm, 'fused/fused-check.mjs', import.meta.dirname, 240_000);
    expect(r.active, label).toBe(true);
    // Both roundings stay far inside γ_k (ratio 1); fused ones round each term once, so no worse.
    expect(r.plainBound, label).toBeLessThan(0.25);
    expect(r.fusedBound, label).toBeLessThan(0.25);
    expect(r.fusedVersusPlain, label).toBeGreaterThan(r.entries / 10);
    expect(r.threadsVersusOne, label).toBe(0);
    expect(r.choleskyResidual, label).toBeLessThan(1e-13);
    expect(r.eighResidual, label).toBeLessThan(1e-12);
    // The float32 factorization (fused f32x4 products) refined to float64's backward error.
    expect(r.mixedSolvePrecision, label).toBe('mixed');
    expect(r.mixedSolveBackwardError, label).toBeLessThan(Number.EPSILON * 40);
  });

  it('are off when setFusedMultiplyAdd(false) says so', () => {
    setFusedMultiplyAdd(false);
    try {
      expect(fusedMultiplyAddActive()).toBe(false);
    } finally {
      setFusedMultiplyAdd(true);
    }
  });
});
