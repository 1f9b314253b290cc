// Worker threads for the SIMD loops (src/simd/simd-threads.ts): a module rewritten to import a shared
// memory, workers attached to an arena running exports on their own arguments, and the pool's
// contract (arenas sharing the workers in turn, failures reported, threads off with setSimdThreads(1)).
import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import denseWasm from '../src/simd/dense.wat';
import { addressOf, balancedRanges, SimdArena, setSimdThreads, simdThreadCount } from '../src/simd/index.js';
import { withSharedMemoryImport } from '../src/simd/shared-module.js';
import { threadedScratchAreas } from '../src/simd/scratch-arena.js';
import { cholesky, matmulMatrix } from '../src/linalg/index.js';
import { withSeed } from '../src/testing/index.js';
import { expectIdentical, randomArray } from './reference.js';

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

describe('balancedRanges', () => {
  it('splits 0..count into `parts` consecutive ranges whose work is within one index of an equal share', () => {
    for (const [count, parts] of [[10, 3], [3, 4], [0, 2], [125, 2], [1000, 7]]) {
      for (const work of [() => 1, (i: number) => count - i]) {
        const ranges = balancedRanges(count, parts, work);
        expect(ranges.length).toBe(parts);
        expect(ranges[0][0]).toBe(0);
        expect(ranges[parts - 1][1]).toBe(count);
        let total = 0;
        for (let i = 0; i < count; i++) total += work(i);
        for (let t = 0; t < parts; t++) {
          if (t > 0) expect(ranges[t][0]).toBe(ranges[t - 1][1]);
          let sum = 0;
          for (let i = ranges[t][0]; i < ranges[t][1]; i++) sum += work(i);
          expect(Math.abs(sum - total / parts)).toBeLessThanOrEqual(Math.max(work(0), 1));
        }
      }
    }
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

  it('shares the workers between arenas: a run on an arena whose workers another took (or that released them) takes them back, same values', () =>
    withSeed((rng) => {
      setSimdThreads(2);
      const m = 23;
      const make = () => {
        const arena = SimdArena.create([8 * m, m, 8], undefined, { threads: true }) as SimdArena;
        arena.arrays[0].set(randomArray(rng, 8 * m));
        arena.arrays[1].set(randomArray(rng, m));
        return arena;
      };
      const dots = (arena: SimdArena) => {
        const [a, b, out] = arena.arrays;
        out.fill(0);
        arena.run('rowBlockDots', [
          [addressOf(a), m, addressOf(b), addressOf(out)],
          [addressOf(a, 4 * m), m, addressOf(b), addressOf(out, 4)],
        ]);
        return Array.from(out);
      };
      const first = make();
      const second = make(); // takes the workers from the first
      // The single-thread values, computed on each arena's own instance.
      const single = (arena: SimdArena) => {
        const [a, b] = arena.arrays;
        return Array.from({ length: 8 }, (_, r) => {
          let dot = 0;
          for (let j = 0; j < m; j++) dot += a[r * m + j] * b[j];
          return dot;
        });
      };
      for (let round = 0; round < 3; round++) {
        for (const [arena, other] of [[first, second], [second, first]]) {
          const values = dots(arena);
          expect(arena.threads?.attached).toBe(true); // the workers ran its job, not this thread alone
          expect(other.threads?.attached).toBe(false);
          single(arena).forEach((dot, r) => expect(Math.abs(values[r] - dot)).toBeLessThan(1e-14 * m));
        }
      }
      expect(() => second.threads?.run('noSuchExport', [null, null])).toThrow(/not an export/);
      second.release();
      expect(second.threads?.attached).toBe(false);
      first.release(); // already without workers: a no-op
      expect(dots(second).every(Number.isFinite)).toBe(true); // takes them back after a release
      expect(second.threads?.attached).toBe(true);
      second.release();
    }));

  it('splits large matmulMatrix products among the threads: the same values as one thread, bit for bit', () =>
    withSeed((rng) => {
      // 260×250×260 and up: past the threaded threshold (2²⁴ multiply-adds); B in several panels.
      const random = (rows: number, cols: number) => ({ rows, cols, data: randomArray(rng, rows * cols) });
      const a = random(250, 260);
      const b = random(250, 300);
      const c = random(260, 300);
      const cases = [
        () => matmulMatrix(a, a, { transposeA: true }), // AᵀA: upper triangle, split by its work
        () => matmulMatrix(a, b, { transposeA: true }),
        () => matmulMatrix(c, b, { transposeB: true }),
        () => matmulMatrix(a, b, { transposeA: true, accumulate: { ...c, data: c.data.slice() } }),
      ];
      setSimdThreads(2);
      const threaded = cases.map((product) => product().data);
      expect(threadedScratchAreas([1])?.arena.threads?.attached).toBe(true); // the products ran there
      setSimdThreads(1);
      cases.forEach((product, index) => expectIdentical(threaded[index], product().data, `case ${index}`));
    }));

  it('splits a large cholesky (L over the kept arena: its own shared arena) among the threads: L Lᵀ = A, the one-thread L bit for bit; a failing pivot lets the threads go', () =>
    withSeed((rng) => {
      // Over 2080 rows the first panels' solves split among the threads too (≥ 2²⁰ multiply-adds).
      const n = 2100;
      const b = { rows: n, cols: n, data: randomArray(rng, n * n) };
      const a = matmulMatrix(b, b, { transposeB: true });
      for (let i = 0; i < n; i++) a.data[i * n + i] += n;
      setSimdThreads(2);
      const threads = SimdArena.create([1], undefined, { threads: true });
      const attached = () => threads?.threads?.attached ?? false;
      threads?.run('touchPages', [[addressOf(threads.arrays[0]), 8], [addressOf(threads.arrays[0]), 8]]);
      expect(attached()).toBe(true);
      const l = cholesky(a).data;
      // The factorization took the workers (from the arena above) and let them go when done.
      expect(attached()).toBe(false);
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < n; i += 7) {
        for (let j = 0; j <= i; j += 5) {
          let s = 0;
          for (let k = 0; k <= j; k++) s += l[i * n + k] * l[j * n + k];
          diff = Math.max(diff, Math.abs(s - a.data[i * n + j]));
          norm = Math.max(norm, Math.abs(a.data[i * n + j]));
        }
      }
      expect(diff / norm).toBeLessThan(1e-13);
      const broken = { ...a, data: a.data.slice() };
      broken.data[1900 * n + 1900] = -1;
      expect(() => cholesky(broken)).toThrow(expect.objectContaining({ code: 'NOT_POSITIVE_DEFINITE' }));
      threads?.run('touchPages', [[addressOf(threads.arrays[0]), 8], [addressOf(threads.arrays[0]), 8]]);
      expect(attached()).toBe(true); // released by the failed factorization, so taken back here
      threads?.release();
      setSimdThreads(1);
      expectIdentical(l, cholesky(a).data, 'one thread');
    }));

  it('starts its workers in a process run with --input-type=module, where they read their program as an ES module', () => {
    // The built package (turbo builds it before the tests), in a child process whose workers inherit the flag.
    const program = [
      "import { matmulMatrix, setSimdThreads, simdThreadCount } from '@kvkit/tensor-core';",
      'setSimdThreads(2);',
      'const a = { rows: 400, cols: 400, data: Float64Array.from({ length: 160000 }, (_, i) => Math.sin(i)) };',
      'matmulMatrix(a, a, { transposeA: true });',
      'console.log(simdThreadCount());',
    ].join('\n');
    const output = execFileSync(process.execPath, ['--input-type=module'], { input: program, cwd: import.meta.dirname, encoding: 'utf8', timeout: 120_000 });
    // Workers that fail to start leave the pool, after the attach timeout, at one thread.
    expect(Number(output.trim())).toBe(2);
  });

  it('is off with setSimdThreads(1), and rejects a count below 1', () => {
    setSimdThreads(1);
    expect(simdThreadCount()).toBe(1);
    expect(SimdArena.create([8], undefined, { threads: true })?.threads).toBeNull();
    expect(() => setSimdThreads(0)).toThrow(RangeError);
    expect(() => setSimdThreads(1.5)).toThrow(RangeError);
  });
});
