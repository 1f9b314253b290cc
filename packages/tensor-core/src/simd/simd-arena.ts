import denseWasm, { fused as denseFusedWasm } from './dense.wat';
import { recycleMemory, takeRecycledMemory } from './recycled-memory.js';
import { SHARED_MAX_PAGES, withSharedMemoryImport } from './shared-module.js';
import { SimdThreads, simdThreadCount } from './simd-threads.js';

/** The dense kernels of dense.wat, present in every arena; pointers are byte addresses in its memory. */
export interface DenseSimdKernels {
  /**
   * out[o_r + 8j] = Σ_k x_r[k]·yt[k·ld + j] for the four rows x_r at xa + 8·d·r and j0 ≤ j < j1:
   * four rows of A·B with B (d × ld) row-major at yt, or of X·Yᵀ with Y stored transposed.
   */
  rowBlockProducts(xa: number, d: number, yt: number, ld: number, j0: number, j1: number, o0: number, o1: number, o2: number, o3: number): void;
  /**
   * Row blocks b0 ≤ b < b1 (rows 4b..4b+3) of C (row r at c + r·cs bytes) = or (add 1) += op(A)'s
   * rows times a panel of B (d rows, ld wide, at yt), with x_i[k] at xa + i·xs + k·xk bytes; block
   * b's columns by `triangle`: 0 all, 1 from column firstRow + 4b on (upper), 2 below column
   * firstRow + 4b + 4 (lower, diagonal blocks whole), 3 a packed upper triangle of order ld (row i's
   * entry j at c + 8·(i·ld − i(i+1)/2 + j), from column firstRow + 4b + 3; float64). matmulMatrix's panel step.
   */
  rowBlocksProducts(xa: number, xs: number, xk: number, d: number, yt: number, ld: number, c: number, cs: number, b0: number, b1: number, firstRow: number, triangle: number, add: number): void;
  /** t[k·rows + r] = L_r[k] (r < rows, k < p; L_r at l + r·ls bytes, float64 or with f32 1 float32; t float64): the Cholesky panel, transposed. */
  gatherPanel(l: number, ls: number, rows: number, p: number, t: number, f32: number): void;
  /** L_r[k] = t[k·rows + r] (rounded to float32 with f32 1), and −t into neg in t's layout (float64, or float32 with f32 1; a float64 neg may be t). */
  scatterPanel(t: number, rows: number, p: number, l: number, ls: number, neg: number, f32: number): void;
  /** `rowBlocksProducts` on float32 operands and outputs (strides in bytes, B's panel ld floats wide): mixed-precision work only. */
  rowBlocksProductsF32(xa: number, xs: number, xk: number, d: number, yt: number, ld: number, c: number, cs: number, b0: number, b1: number, firstRow: number, triangle: number, add: number): void;
  /**
   * `rowBlocksProducts` over consecutive panels of B, `depth` of its d rows each, panel after panel
   * (the sums go on from panel to panel, as one call per panel would leave them): a pass of several
   * panels in one call, so a worker thread takes it in one hand-off.
   */
  rowBlocksPanels(xa: number, xs: number, xk: number, d: number, yt: number, ld: number, c: number, cs: number, b0: number, b1: number, firstRow: number, triangle: number, add: number, depth: number): void;
  /** out[r] += a_r · b for the four rows a_r = a + 8·r·m (m columns). */
  rowBlockDots(a: number, m: number, b: number, out: number): void;
  /** out[j] += Σ_r a_r[j]·c_r for the same four rows, j < m. */
  rowBlockTransposedAxpy(a: number, m: number, c0: number, c1: number, c2: number, c3: number, out: number): void;
  /**
   * One pass of out += Aᵀ(A·b) over 4·blocks rows of A (m columns) at a: rows[i] = a_i · b for each
   * row (the intermediate A·b), then its contribution to out, block by block while it is in cache.
   */
  rowBlockNormalProduct(a: number, blocks: number, m: number, b: number, rows: number, out: number): void;
  /**
   * `rowBlockNormalProduct` for k columns: rows (4·blocks × k) = A·B for B (m × k), and column l of
   * outColumns (m values at outColumns + 8·m·l) += Aᵀ·(column l of rows), block by block in one pass.
   */
  rowBlockNormalColumns(a: number, blocks: number, m: number, b: number, k: number, rows: number, outColumns: number): void;
  /**
   * w += S·v for the symmetric S (length × length, row stride ld values, at a) read through its
   * upper triangle: a Householder tridiagonalization step's product (w starts at zero).
   */
  symmetricUpperMatvec(a: number, ld: number, length: number, v: number, w: number): void;
  /**
   * Recorded rotation sequences on the columns of V stored transposed (Vᵀ at vt, row stride ld, a
   * multiple of 8; `blocks` = ld / 8): sequence q is four f64 at desc + 32q (low, high, ascending
   * 1/0, offset into cos and sin), as ColumnRotationBatch records them.
   */
  rotationChains(vt: number, ld: number, blocks: number, count: number, desc: number, cos: number, sin: number): void;
  /** w[j] += c_t·a_t[j] over rows t < height (row stride ld values) with c_t ≠ 0, in order: w = Aᵀc. */
  rowsAxpyInto(a: number, ld: number, height: number, width: number, coef: number, w: number): void;
  /** Columns [from, to) of T (p rows of ld values) made L⁻¹T in place, L lower-triangular (row stride ls values): blocked Cholesky's panel solve. */
  lowerSolveColumns(t: number, ld: number, p: number, l: number, ls: number, from: number, to: number): void;
  /** x ← L⁻¹x (transpose 0) or L⁻ᵀx (transpose 1) for the lower-triangular n × n L at l. */
  lowerSolveVector(l: number, n: number, x: number, transpose: number): void;
  /** `lowerSolveVector` for X (n × k, row-major at x) in place: all k columns in one pass over L. */
  lowerSolveRows(l: number, n: number, x: number, k: number, transpose: number): void;
  /**
   * X ← L⁻¹X (transpose 0) or L⁻ᵀX (transpose 1) for k float64 columns of n values one after another
   * at x, with L lower-triangular in float32 (row stride n floats), its entries promoted and every
   * sum in float64: the mixed-precision refinement's solves.
   */
  lowerSolveColumnsF32(l: number, n: number, x: number, k: number, transpose: number): void;
  /**
   * Row i of R −= A·X for the symmetric A read through its lower triangle (row i's entries below the
   * diagonal at a, the diagonal given), X and R as k float64 columns of n values one after another:
   * r_i by the row, r_<i by its mirror, every column while the row is in cache.
   */
  symmetricResidualRow(a: number, i: number, diagonal: number, x: number, r: number, n: number, k: number): void;
  /**
   * dst[i] = the f16 bit pattern src[i] as an f32, exactly (u16 at src, f32 at dst, i < n). dst may
   * be src − 2n: f16 rows copied into the upper half of their f32 place convert in place.
   */
  f16ToF32(src: number, dst: number, n: number): void;
  /** a_t += (scale·c_t)·w over rows t < height with c_t ≠ 0: the rank-1 update A += scale·c wᵀ. */
  rowsAxpyFrom(a: number, ld: number, height: number, width: number, coef: number, scale: number, w: number): void;
  /** a_t += (scale·(a_t·v))·v for each row t < rows whose dot is non-zero (dotProduct's summation order). */
  rowsReflect(a: number, ld: number, rows: number, width: number, v: number, scale: number): void;
  /** out[t] = scale·(a_t·x) for rows t < height (row stride ld), each dot as tensor-core's dotProduct sums it. */
  rowsDots(a: number, ld: number, height: number, width: number, x: number, scale: number, out: number): void;
  /** One byte rewritten with its own value every 4096 bytes of [at, at + bytes): the pages' first touch. */
  touchPages(at: number, bytes: number): void;
  /** Every byte of [at, at + bytes) set to `value` (memset speed, shared memory too). */
  fillBytes(at: number, value: number, bytes: number): void;
}

/** The part of the WebAssembly JS API used here (the ES library types do not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => { readonly buffer: ArrayBufferLike };
  Instance: new (module: object, imports: object) => { readonly exports: object };
}

const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
const PAGE_BYTES = 65536;
/** wasm32 addresses 4 GiB at most; above it (or where the engine refuses the memory) callers use their JavaScript loops. */
const MAX_PAGES = 65536;
const compiled = new Map<Uint8Array, object | null>();
const compiledShared = new Map<Uint8Array, object | null>();

/**
 * A compiled module (cached by its bytes; with `shared`, the variant importing a shared memory), or
 * null where WebAssembly or its SIMD is unavailable or refused.
 */
function compile(bytes: Uint8Array, shared = false): object | null {
  const cache = shared ? compiledShared : compiled;
  let module = cache.get(bytes);
  if (module === undefined) {
    try {
      const source = shared ? withSharedMemoryImport(bytes) : bytes;
      module = wasm?.validate(source) ? new wasm.Module(source) : null;
    } catch {
      module = null; // e.g. a Content-Security-Policy without 'wasm-unsafe-eval'
    }
    cache.set(bytes, module);
  }
  return module;
}

let enabled = true;
let fusedAllowed = true;
/** Whether the engine compiles the fused dense module and its multiply-add rounds once (probed once). */
let fusedFuses: boolean | undefined;

/**
 * Turns the WebAssembly SIMD loops of every kvkit package off (false) or back on, for arenas created
 * afterwards: for benchmarks that compare them with the JavaScript loops, and for environments that
 * forbid compiling WebAssembly. Results are the same float64 values either way, unless the dense
 * products fuse their multiply-adds (`setFusedMultiplyAdd`).
 */
export function setSimdKernels(on: boolean): void {
  enabled = on;
}

/**
 * Lets the dense SIMD products (matmulMatrix, cholesky, eigh, … and the packages built on them)
 * use fused multiply-add, for arenas created afterwards (default on). It takes effect where the
 * engine has relaxed SIMD (Chrome 114+, Node 22+, Node 20 with --experimental-wasm-relaxed-simd) and
 * the CPU has FMA: there the products run up to 2× the multiply-adds per cycle and round once per
 * term, so their values differ from the JavaScript loops' in the last bits. Off, every engine gives
 * the JavaScript loops' float64 values bit for bit.
 */
export function setFusedMultiplyAdd(on: boolean): void {
  fusedAllowed = on;
}

/** Whether arenas created now run the dense products with fused multiply-adds (see `setFusedMultiplyAdd`). */
export function fusedMultiplyAddActive(): boolean {
  return enabled && fusedAllowed && engineFusesMultiplyAdds();
}

/** Whether SIMD loops are switched on (`setSimdKernels`); callers holding an arena check it per use. */
export function simdKernelsEnabled(): boolean {
  return enabled;
}

/**
 * Whether the fused dense module compiles here and its multiply-add rounds once: 1 + 2⁻³⁰ times
 * 1 − 2⁻³⁰ is 1 − 2⁻⁶⁰, which a separate product rounds to 1, so minus 1 it gives 0 unfused and
 * −2⁻⁶⁰ fused. Relaxed SIMD lets an engine without FMA compute it unfused; then the plain module
 * serves (the same values).
 */
function engineFusesMultiplyAdds(): boolean {
  fusedFuses ??= probeFusedMultiplyAdd();
  return fusedFuses;
}

function probeFusedMultiplyAdd(): boolean {
  const module = wasm && denseFusedWasm ? compile(denseFusedWasm) : null;
  if (!wasm || !module) return false;
  try {
    const probe = new wasm.Instance(module, { env: { memory: new wasm.Memory({ initial: 1 }) } }).exports as { multiplyAddProbe(x: number, y: number, acc: number): number };
    return probe.multiplyAddProbe(1 + 2 ** -30, 1 - 2 ** -30, -1) !== 0;
  } catch {
    return false;
  }
}

/**
 * A package's own module(s) bound beside the dense kernels in an arena (their text compiled to
 * bytes, each importing `env.memory`): several share the one memory, so one module's kernel can read
 * what another's wrote there. Their export names must differ.
 */
export type ExtraModules = Uint8Array | readonly Uint8Array[];

function extraModulesOf(extra: ExtraModules | undefined): readonly Uint8Array[] {
  if (extra === undefined) return [];
  return extra instanceof Uint8Array ? [extra] : extra;
}

/**
 * float64 arrays in one WebAssembly memory sized once for them, with SIMD kernels bound to it:
 * tensor-core's dense kernels plus, optionally, a package's own module or modules (`ExtraModules`).
 * The memory never grows, so the views stay valid for the arena's life
 * (growing would detach every view). `create` returns null where SIMD is unavailable or the memory
 * cannot be had: callers then run their JavaScript loops.
 */
export class SimdArena<Extra extends object = object> {
  private disposed = false;

  private constructor(
    readonly kernels: DenseSimdKernels & Extra,
    readonly arrays: Float64Array[],
    /**
     * Worker threads attached to this arena's (shared) memory, for arenas created with
     * `{ threads: true }` where the thread count (`setSimdThreads`) exceeds 1; else null.
     */
    readonly threads: SimdThreads | null = null,
    /** Whether its dense products fuse their multiply-adds (`fusedMultiplyAddActive` when it was created). */
    readonly fused: boolean,
    private readonly memory: { readonly buffer: ArrayBufferLike },
    /** Whether the memory is shared (what recycling matches it on). */
    private readonly shared: boolean,
    /** Whether its pages are new (not yet touched) rather than a disposed arena's, reused. */
    private readonly fresh: boolean,
  ) {}

  /**
   * An arena holding one zeroed float64 array of each length, or null (use the JavaScript loops).
   * With `threads`, its memory is shared and worker threads are attached to it (see `threads`);
   * call `release` when done so they let go of the memory.
   */
  static create<Extra extends object = object>(lengths: number[], extraModule?: ExtraModules, options: { threads?: boolean } = {}): SimdArena<Extra> | null {
    if (!enabled || !wasm) return null;
    const shared = (options.threads ?? false) && simdThreadCount() > 1;
    const fused = fusedMultiplyAddActive();
    const dense = compile(fused && denseFusedWasm ? denseFusedWasm : denseWasm, shared);
    const extras = extraModulesOf(extraModule).map((bytes) => compile(bytes, shared));
    if (!dense || extras.includes(null)) return null;
    const modules = [dense, ...(extras as object[])];
    // Each array starts on a 16-byte boundary, so two-lane loads of aligned pairs stay aligned.
    const starts: number[] = [];
    let bytes = 0;
    for (const length of lengths) {
      starts.push(bytes);
      bytes += Math.ceil((length * 8) / 16) * 16;
    }
    const pages = Math.max(1, Math.ceil(bytes / PAGE_BYTES));
    if (pages > MAX_PAGES) return null;
    let memory: { readonly buffer: ArrayBufferLike } | undefined = takeRecycledMemory(pages * PAGE_BYTES, shared);
    const fresh = !memory;
    try {
      memory ??= new wasm.Memory(shared ? { initial: pages, maximum: Math.min(pages, SHARED_MAX_PAGES), shared: true } : { initial: pages });
    } catch {
      return null; // out of address space or memory: the JavaScript path needs the same bytes, as plain arrays
    }
    const imports = { env: { memory } };
    const instances = modules.map((module) => new wasm.Instance(module, imports));
    const kernels = Object.assign({}, ...instances.map((instance) => instance.exports)) as DenseSimdKernels & Extra;
    if (!fresh) kernels.fillBytes(0, 0, bytes); // a disposed arena's memory: its old contents go
    const threads = shared ? SimdThreads.attach(memory, modules, kernels as unknown as Record<string, (...args: number[]) => void>) : null;
    return new SimdArena(
      kernels,
      lengths.map((length, i) => new Float64Array(memory.buffer, starts[i], length)),
      threads,
      fused,
      memory,
      shared,
      fresh,
    );
  }

  /** Threads that `run` splits a job among, the caller's included (1 without worker threads). */
  get threadCount(): number {
    return this.threads?.count ?? 1;
  }

  /**
   * Calls export `name` once per thread at the same time, thread t with args[t] (the caller runs
   * args[0]; a null entry sits the job out), and returns when all calls have returned. Without
   * worker threads, args holds one entry and the call runs here. Callers write their work split
   * once, for `threadCount` parts, whatever that count is.
   */
  run(name: string, args: Array<number[] | null>): void {
    if (this.disposed) throw new Error(`SimdArena.run('${name}'): the arena was disposed`);
    if (this.threads) {
      this.threads.run(name, args);
      return;
    }
    if (args.length !== 1) throw new Error(`SimdArena.run: one thread here, but ${args.length} argument lists`);
    if (args[0]) (this.kernels as unknown as Record<string, (...values: number[]) => void>)[name](...args[0]);
  }

  /**
   * With worker threads: the first touch of `array`'s fresh pages (the slow part of filling new
   * memory on some machines, ≈ 3 ms per MiB on a VM here) split among all threads, 1.9× faster on
   * two; nothing without threads (a single thread gains nothing by touching ahead).
   */
  touchInParallel(array: Float64Array): void {
    const count = this.threadCount;
    if (count === 1 || !this.fresh) return;
    const bytes = array.length * 8;
    const page = 4096;
    const boundary = (t: number) => (t === count ? bytes : Math.floor((bytes * t) / count / page) * page);
    this.run('touchPages', Array.from({ length: count }, (_, t) => [addressOf(array) + boundary(t), boundary(t + 1) - boundary(t)]));
  }

  /** Lets the worker threads go (they keep the memory alive while attached); a later `run` takes them back. */
  release(): void {
    this.threads?.detach();
  }

  /**
   * `release`, and the memory goes back for the next arena of about its size to reuse (its pages
   * already touched; see `setArenaRecycling`). Call it only when no view of the arena's arrays
   * will be read or written again: they become another arena's memory (kept memory reads as NaN
   * until then). `run` throws afterwards.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.release();
    // Kept memory is poisoned (every float64 a NaN) until it is taken: a view read after its
    // arena's dispose gives NaNs at once instead of values that go stale only when reused.
    if (recycleMemory(this.memory, this.shared)) this.kernels.fillBytes(0, 0xff, this.memory.buffer.byteLength);
  }
}

/** Byte address of element `index` of an arena array. */
export function addressOf(array: Float64Array, index = 0): number {
  return array.byteOffset + index * 8;
}
