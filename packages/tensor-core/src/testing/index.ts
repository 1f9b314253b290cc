/**
 * Test helpers shared by kvkit packages (and useful for testing your own kernels): fresh seeded
 * randomness with the seed printed on failure, and relative-error comparison where NaN never passes.
 */
import { createRng, type Rng } from '../rng.js';
import { setFusedMultiplyAdd } from '../simd/simd-arena.js';

/** The seed for this run: KVKIT_SEED when set (to reproduce a failure), otherwise fresh. */
export function freshSeed(): number {
  const fromEnv = typeof process !== 'undefined' ? process.env.KVKIT_SEED : undefined;
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return Math.floor(Math.random() * 2 ** 32);
}

function annotate(error: unknown, seed: number): never {
  const note = ` [seed ${seed}; reproduce with KVKIT_SEED=${seed}]`;
  if (error instanceof Error) {
    error.message += note;
    throw error;
  }
  throw new Error(String(error) + note);
}

/**
 * Runs `body` with the dense SIMD products unfused (`setFusedMultiplyAdd(false)`, restored to on
 * afterwards): for checks that SIMD paths give the JavaScript loops' float64 values bit for bit,
 * which fused multiply-adds (engines with relaxed SIMD) round differently.
 */
export function withUnfusedProducts<T>(body: () => T): T {
  setFusedMultiplyAdd(false);
  try {
    return body();
  } finally {
    setFusedMultiplyAdd(true);
  }
}

/**
 * Runs `body` with a generator seeded freshly (or from KVKIT_SEED); any failure carries the seed.
 * Works with synchronous and async bodies.
 */
export function withSeed<T>(body: (rng: Rng, seed: number) => T): T {
  const seed = freshSeed();
  try {
    const result = body(createRng(seed), seed);
    if (result instanceof Promise) return result.catch((e: unknown) => annotate(e, seed)) as T;
    return result;
  } catch (error) {
    return annotate(error, seed);
  }
}

/**
 * ‖actual − expected‖₂ / ‖expected‖₂ (absolute error when the reference is all zeros). Any NaN or
 * length mismatch gives Infinity, so a NaN can never pass a tolerance.
 */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(a) !== Number.isNaN(e)) return Infinity;
    if (Number.isNaN(a)) continue;
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      if (a !== e) return Infinity;
      continue;
    }
    diff += (a - e) ** 2;
    norm += e * e;
  }
  if (norm === 0) return Math.sqrt(diff);
  return Math.sqrt(diff / norm);
}

/** Throws a descriptive error when the relative error exceeds `tolerance`. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, label = 'value'): void {
  const err = relativeError(actual, expected);
  if (!(err <= tolerance)) {
    let worst = 0;
    for (let i = 1; i < Math.min(actual.length, expected.length); i++) {
      if (Math.abs(actual[i] - expected[i]) > Math.abs(actual[worst] - expected[worst]) || Number.isNaN(actual[i])) worst = i;
    }
    throw new Error(
      `${label}: relative error ${err.toExponential(3)} > ${tolerance} (lengths ${actual.length}/${expected.length}; worst at ${worst}: got ${actual[worst]}, expected ${expected[worst]})`,
    );
  }
}

/** Float64 copy of an array of numbers (for references computed in double precision). */
export function toFloat64(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values as ArrayLike<number>);
}

export { openWebGpuForTests, TEST_DAWN_FEATURES, webgpuRequired } from './webgpu-backend.js';
export { prepareSwiftShaderEnvironment } from './swiftshader-env.js';
export { testCacheSpec, consecutivePositions } from './cache-spec.js';
export { asAsynchronousBackend } from './asynchronous-backend.js';
export { type LseMask, referenceLogSumExp } from './reference-lse.js';

/**
 * Node's flags for a child process that must run a module's relaxed-SIMD variant (`fused` of a .wat
 * import): none where this engine already compiles it (Node 22+), else V8's flag (Node 20).
 */
export function relaxedSimdFlags(fusedModule: Uint8Array | null): string[] {
  const { validate } = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;
  return fusedModule && validate(fusedModule) ? [] : ['--experimental-wasm-relaxed-simd'];
}

/**
 * Runs `script` (relative to `cwd`) in a child Node that can run `fusedModule` (relaxedSimdFlags),
 * passing a fresh seed as its argument, and returns the JSON its last line printed (numbers, unless `Result` says otherwise), with a label
 * naming the seed and the result for assertion messages. How the fused-variant suites check their
 * module where this process cannot turn relaxed SIMD on itself.
 */
export function runRelaxedSimdCheck<Result extends object = Record<string, number>>(fusedModule: Uint8Array | null, script: string, cwd: string, timeoutMs: number): { result: Result; label: string } {
  const { execFileSync } = (globalThis as unknown as { process: { getBuiltinModule(name: 'node:child_process'): typeof import('node:child_process') } }).process.getBuiltinModule('node:child_process');
  const seed = freshSeed();
  const output = execFileSync(process.execPath, [...relaxedSimdFlags(fusedModule), script, String(seed)], { cwd, encoding: 'utf8', timeout: timeoutMs });
  const result = JSON.parse(output.trim().split('\n').pop()!) as Result;
  return { result, label: `seed ${seed}: ${JSON.stringify(result)}` };
}
