// Worker threads for the SIMD loops (src/simd/simd-threads.ts): a module rewritten to import a shared
// memory, workers attached to an arena running exports on their own arguments, and the pool's
// contract (one arena attached at a time, failures reported, threads off with setSimdThreads(1)).
import { afterEach, describe, expect, it } from 'vitest';
import denseWasm from '../src/simd/dense.wat';
import { addressOf, SimdArena, setSimdThreads, simdThreadCount } from '../src/simd/index.js';
import { withSharedMemoryImport } from '../src/simd/shared-module.js';
import { withSeed } from '../src/testing/index.js';
import { randomArray } from './reference.js';

/** The WebAssembly API (this package's TypeScript library settings do not declare it). */
const WebAssembly = (globalThis as unknown as {
  WebAssembly: {
    validate(bytes: Uint8Array): boolean;
    Module: new (bytes: Uint8Array) => object;
    Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => object;
    Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  };
}).WebAssembly;

const hasWorkers = typeof (globalThis as { process?: { getBuiltinModule?: unknown } }).process?.getBuiltinModule === 'function';
if (!hasWorkers) console.warn('[simd-threads] process.getBuiltinModule is missing (Node < 20.16): the worker-thread cases skip');

afterEach(() => setSimdThreads());

describe('withSharedMemoryImport', () => {
  it('rewrites the memory import to a shared one, which a plain module refuses', () => {
    const shared = withSharedMemoryImport(denseWasm);
    expect(WebAssembly.validate(shared)).toBe(true);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(shared), { env: { memory } });
    expect(Object.keys(instance.exports)).toContain('rowBlockProducts');
    expect(() => new WebAssembly.Instance(new WebAssembly.Module(denseWasm), { env: { memory } })).toThrow();
    expect(() => withSharedMemoryImport(Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0))).toThrow(/imports no memory/);
  });
});

describe('SimdArena.run', () => {
  it('runs a job on the calling thread alone without worker threads, and refuses a split for more threads', () =>
    withSeed((rng) => {
      setSimdThreads(1);
      const m = 9;
      const arena = SimdArena.create([4 * m, m, 4], undefined, { threads: true }) as SimdArena;
      expect(arena.threadCount).toBe(1);
      const [a, b, out] = arena.arrays;
      a.set(randomArray(rng, 4 * m));
      b.set(randomArray(rng, m));
      arena.run('rowBlockDots', [[addressOf(a), m, addressOf(b), addressOf(out)]]);
      for (let r = 0; r < 4; r++) {
        let dot = 0;
        for (let j = 0; j < m; j++) dot += a[r * m + j] * b[j];
        expect(Math.abs(out[r] - dot)).toBeLessThan(1e-14 * m);
      }
      expect(() => arena.run('rowBlockDots', [null, null])).toThrow(/one thread here/);
    }));
});

describe.skipIf(!hasWorkers)('SimdThreads', () => {
  it('runs an export on two threads at once, each on its own rows, with the single-thread values', () =>
    withSeed((rng) => {
      setSimdThreads(2);
      const m = 37;
      const arena = SimdArena.create([8 * m, m, 8, 8], undefined, { threads: true }) as SimdArena;
      expect(arena.threads?.count).toBe(2);
      const [a, b, parallel, single] = arena.arrays;
      a.set(randomArray(rng, 8 * m));
      b.set(randomArray(rng, m));
      arena.threads?.run('rowBlockDots', [
        [addressOf(a), m, addressOf(b), addressOf(parallel)],
        [addressOf(a, 4 * m), m, addressOf(b), addressOf(parallel, 4)],
      ]);
      arena.kernels.rowBlockDots(addressOf(a), m, addressOf(b), addressOf(single));
      arena.kernels.rowBlockDots(addressOf(a, 4 * m), m, addressOf(b), addressOf(single, 4));
      expect(Array.from(parallel)).toEqual(Array.from(single));
      // A thread given null sits the job out.
      parallel.fill(0);
      arena.threads?.run('rowBlockDots', [[addressOf(a), m, addressOf(b), addressOf(parallel)], null]);
      expect(Array.from(parallel.subarray(4))).toEqual([0, 0, 0, 0]);
      arena.release();
    }));

  it('touches fresh pages on every thread without changing them, and reports a failing worker', () => {
    setSimdThreads(2);
    const arena = SimdArena.create([300_000, 4], undefined, { threads: true }) as SimdArena;
    const [data] = arena.arrays;
    // Values on the page boundaries the touch rewrites (the array starts on one; 512 values a page).
    for (const index of [0, 512, 150_016, 299_520]) data[index] = -1.5e300 * (index + 1);
    arena.touchInParallel(data);
    for (const index of [0, 512, 150_016, 299_520]) expect(data[index]).toBe(-1.5e300 * (index + 1));
    expect(data[1]).toBe(0);
    // An address past the memory traps on the worker: run throws, and the threads stay usable.
    expect(() => arena.threads?.run('touchPages', [null, [2 ** 31 - 16, 4096]])).toThrow(/failed on a worker thread/);
    arena.threads?.run('touchPages', [null, [addressOf(data), 4096]]);
    arena.release();
  });

  it('attaches one arena at a time: a second attach detaches the first, and release lets go', () => {
    setSimdThreads(2);
    const first = SimdArena.create([64], undefined, { threads: true }) as SimdArena;
    const second = SimdArena.create([64], undefined, { threads: true }) as SimdArena;
    expect(() => first.threads?.run('touchPages', [null, [addressOf(first.arrays[0]), 8]])).toThrow(/detached/);
    expect(() => second.threads?.run('noSuchExport', [null, null])).toThrow(/not an export/);
    second.release();
    expect(() => second.threads?.run('touchPages', [null, null])).toThrow(/detached/);
    first.release(); // already detached: a no-op
  });

  it('is off with setSimdThreads(1), and rejects a count below 1', () => {
    setSimdThreads(1);
    expect(simdThreadCount()).toBe(1);
    expect(SimdArena.create([8], undefined, { threads: true })?.threads).toBeNull();
    expect(() => setSimdThreads(0)).toThrow(RangeError);
    expect(() => setSimdThreads(1.5)).toThrow(RangeError);
  });
});
