// The fused row kernel's variant with fused multiply-adds (row-attention.wat's `fused` module, taken
// where tensor-core's dense products fuse theirs): run in a child Node with relaxed SIMD on (Node 20
// needs the flag; Node 22+ and Chrome have it), on the built package. Decode and causal prefill must
// meet the float64 reference as the plain module does, and differ from the plain module's values
// somewhere (the fused module really served).
import { runRelaxedSimdCheck } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { fused as rowAttentionFusedWasm } from '../src/cpu/row-attention.wat';

describe('fused row attention with fused multiply-adds', () => {
  it('meets the float64 reference in decode and causal prefill, and its values are not the plain module’s', () => {
    const { result: r, label } = runRelaxedSimdCheck(rowAttentionFusedWasm, 'fused/row-attention-check.mjs', import.meta.dirname, 120_000);
    expect(r.active, label).toBe(true);
    expect(r.fusedDecodeError, label).toBeLessThan(2e-6);
    expect(r.fusedPrefillError, label).toBeLessThan(2e-6);
    expect(r.plainDecodeError, label).toBeLessThan(2e-6);
    expect(r.differ, label).toBeGreaterThan(100);
  });
});
