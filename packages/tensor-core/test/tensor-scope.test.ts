import { describe, expect, it } from 'vitest';
import { add, cpuBackend, TensorScope, tensor } from '../src/index.js';

describe('TensorScope', () => {
  it('releases what it tracks, keeps what is untracked or kept, and gives the memory back', () => {
    const backend = cpuBackend();
    const before = backend.bytesInUse();
    const scope = new TensorScope();
    const a = scope.track(tensor([1, 2, 3], [3]));
    const b = scope.track(tensor([4, 5, 6], [3]));
    const sum = scope.track(add(a, b));
    const kept = scope.track(tensor([7], [1]));
    const untracked = scope.untrack(scope.track(tensor([8], [1])));
    expect(scope.size).toBe(4);
    expect(backend.bytesInUse() - before).toBe(4 * (3 + 3 + 3 + 1 + 1));
    scope.dispose(kept);
    expect(scope.size).toBe(0);
    for (const t of [a, b, sum]) expect(t.isDisposed).toBe(true);
    expect(kept.isDisposed).toBe(false);
    expect(untracked.isDisposed).toBe(false);
    expect(Array.from(untracked.readSync())).toEqual([8]);
    expect(backend.bytesInUse() - before).toBe(4 * 2);
    kept.dispose();
    untracked.dispose();
    expect(backend.bytesInUse()).toBe(before);
  });

  it('is harmless to dispose twice, and a tensor tracked twice is released once', () => {
    const scope = new TensorScope();
    const t = tensor([1], [1]);
    scope.track(t);
    scope.track(t);
    scope.dispose();
    scope.dispose();
    expect(t.isDisposed).toBe(true);
    // untrack takes out one registration (the last): the other still releases the tensor
    const u = tensor([2], [1]);
    scope.track(u);
    scope.track(u);
    scope.untrack(u);
    expect(scope.size).toBe(1);
    scope.dispose();
    expect(u.isDisposed).toBe(true);
  });
});
