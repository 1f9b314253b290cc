// Disposed arenas' memory reused by later arenas (src/simd/recycled-memory.ts): a reused memory comes
// back zeroed, goes only to an arena of about its size and kind, the kept bytes stay under the
// limit, kept memory reads as NaN until taken, and a disposed arena refuses work. The
// decompositions that dispose of their one-off arenas give the same values on a reused memory as
// on a fresh one.
import { afterEach, describe, expect, it } from 'vitest';
import { addressOf, recycledArenaBytes, SimdArena, setArenaRecycling, setSimdThreads } from '../src/simd/index.js';
import { eigh } from '../src/linalg/index.js';
import { withSeed } from '../src/testing/index.js';
import { expectIdentical, randomArray } from './reference.js';

const MiB = 2 ** 20;

afterEach(() => {
  setArenaRecycling();
  setSimdThreads();
});

/** An arena of one array of `bytes` bytes (its memory is that, rounded up to 64 KiB pages). */
const arenaOf = (bytes: number, threads = false) => SimdArena.create([bytes / 8], undefined, { threads }) as SimdArena;

describe('recycled arena memory', () => {
  it('gives a disposed arena’s memory to the next arena of about its size, zeroed; a much smaller one gets its own', () => {
    setArenaRecycling(0); // start from nothing kept
    setArenaRecycling(8 * MiB);
    const first = arenaOf(2 * MiB);
    first.arrays[0].fill(-3.5);
    const firstBuffer = first.arrays[0].buffer;
    first.dispose();
    expect(recycledArenaBytes()).toBe(2 * MiB);
    // A view read after dispose gives NaNs (the kept memory is poisoned), not stale values.
    expect(first.arrays[0].every((value) => Number.isNaN(value))).toBe(true);
    // Half the size or less would hold the kept memory hostage: a fresh one.
    const small = arenaOf(MiB / 2);
    expect(small.arrays[0].buffer).not.toBe(firstBuffer);
    expect(recycledArenaBytes()).toBe(2 * MiB);
    const second = SimdArena.create([MiB / 8 + 3, 5]) as SimdArena;
    expect(second.arrays[0].buffer).toBe(firstBuffer);
    expect(recycledArenaBytes()).toBe(0);
    for (const array of second.arrays) expect(array.every((value) => value === 0)).toBe(true);
    // Its kernels work on the reused memory.
    const [a, out] = [second.arrays[0].subarray(0, 4), second.arrays[1]];
    a.set([1, 2, 3, 4]);
    second.kernels.rowBlockDots(addressOf(a), 1, addressOf(a), addressOf(out));
    expect(Array.from(out.subarray(0, 4))).toEqual([1, 2, 3, 4]);
  });

  it('keeps at most the limit, oldest first out, refuses a memory over it, and lets all go at 0', () => {
    setArenaRecycling(0);
    setArenaRecycling(5 * MiB);
    const [a, b, c] = [arenaOf(2 * MiB), arenaOf(2 * MiB), arenaOf(2 * MiB)];
    const [bufferA, bufferC] = [a.arrays[0].buffer, c.arrays[0].buffer];
    a.dispose();
    b.dispose();
    expect(recycledArenaBytes()).toBe(4 * MiB);
    c.dispose(); // 6 MiB > 5: a, the oldest, goes
    expect(recycledArenaBytes()).toBe(4 * MiB);
    const taken = [arenaOf(2 * MiB), arenaOf(2 * MiB)].map((arena) => arena.arrays[0].buffer);
    expect(taken).not.toContain(bufferA);
    expect(taken).toContain(bufferC);
    const large = arenaOf(6 * MiB);
    large.arrays[0][0] = 2.5;
    large.dispose(); // over the limit alone: not kept (nor poisoned)
    expect(recycledArenaBytes()).toBe(0);
    expect(large.arrays[0][0]).toBe(2.5);
    arenaOf(MiB).dispose();
    expect(recycledArenaBytes()).toBe(MiB);
    setArenaRecycling(0);
    expect(recycledArenaBytes()).toBe(0);
    expect(() => setArenaRecycling(-1)).toThrow(RangeError);
    expect(() => setArenaRecycling(Number.NaN)).toThrow(/maxBytes/);
  });

  it('refuses work once disposed, and a second dispose keeps nothing twice', () => {
    setArenaRecycling(0);
    setArenaRecycling(8 * MiB);
    const arena = arenaOf(MiB);
    arena.dispose();
    arena.dispose();
    expect(recycledArenaBytes()).toBe(MiB);
    expect(() => arena.run('touchPages', [[0, 0]])).toThrow(/disposed/);
  });

  it('matches shared memory to threaded arenas only, and a reused one serves the worker threads', () =>
    withSeed((rng) => {
      setSimdThreads(2);
      setArenaRecycling(0);
      setArenaRecycling(8 * MiB);
      // (A shared memory's buffer is a new object at every read: what is kept tells.)
      const threaded = arenaOf(MiB, true);
      threaded.arrays[0].fill(7.25);
      threaded.dispose();
      expect(recycledArenaBytes()).toBe(MiB);
      arenaOf(MiB); // not shared: a fresh memory
      expect(recycledArenaBytes()).toBe(MiB);
      const m = 37;
      const again = SimdArena.create([8 * m, m, 8, 8, MiB / 8 - 10 * m], undefined, { threads: true }) as SimdArena;
      expect(recycledArenaBytes()).toBe(0);
      for (const array of again.arrays) expect(array.every((value) => value === 0)).toBe(true);
      expect(again.threadCount).toBe(2);
      const [a, b, parallel, single] = again.arrays;
      a.set(randomArray(rng, 8 * m));
      b.set(randomArray(rng, m));
      again.run('rowBlockDots', [
        [addressOf(a), m, addressOf(b), addressOf(parallel)],
        [addressOf(a, 4 * m), m, addressOf(b), addressOf(parallel, 4)],
      ]);
      again.kernels.rowBlockDots(addressOf(a), m, addressOf(b), addressOf(single));
      again.kernels.rowBlockDots(addressOf(a, 4 * m), m, addressOf(b), addressOf(single, 4));
      expect(Array.from(parallel)).toEqual(Array.from(single));
      again.dispose();
    }));

  it('eigh (its tridiagonalization disposes of its arena) gives the same values bit for bit on reused memory as on fresh', () =>
    withSeed((rng) => {
      const n = 200;
      const g = randomArray(rng, n * n);
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = g[i * n + j] + g[j * n + i];
      const matrix = { rows: n, cols: n, data: a };
      setArenaRecycling(0);
      const fresh = eigh(matrix);
      setArenaRecycling(64 * MiB);
      eigh(matrix); // leaves its memory kept
      expect(recycledArenaBytes()).toBeGreaterThan(n * n * 8);
      const reused = eigh(matrix);
      expectIdentical(reused.values, fresh.values);
      expectIdentical(reused.vectors.data, fresh.vectors.data);
    }));
});
