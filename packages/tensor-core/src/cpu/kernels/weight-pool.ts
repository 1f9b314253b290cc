// f32 matrices that live in WebAssembly memory for their whole life, so the SIMD products read them
// in place. The general path copies B into its arena on every call, which for a model's weights in
// decode (one token: every weight read once per step) costs as much as the product itself.
import { SimdArena } from '../../simd/simd-arena.js';
import { GEMM_A_FLOATS, GEMM_C_FLOATS, GEMM_MODULES, type GemmF32Kernels, type ProductPlace, registerResidentPlace } from './simd-gemm.js';

/**
 * A fixed block of WebAssembly memory for f32 weights (sized once: it never grows, so the arrays it
 * hands out stay valid) plus the scratch a product needs beside them (6 MiB). `allocate` gives
 * plain Float32Arrays: wrap them in CPU tensors (`tensorFromHost`) and every kernel reads them as
 * usual, while f32 products A·Bᵀ with such a B skip copying it. `allocateHalf` gives room for f16
 * or bf16 bit patterns (half the bytes): a product of one f32 row with such a B reads it in place,
 * with the values of B widened to f32.
 */
export class WeightPool {
  private used = 0;

  private constructor(
    /** Held so the memory lives as long as the pool (the arrays keep it alive too). */
    private readonly arena: SimdArena<GemmF32Kernels>,
    private readonly weights: Float32Array,
  ) {}

  /**
   * A pool for `floats` f32 values (each array rounded up to 16 bytes), or null where SIMD is off
   * or unavailable, or the memory cannot be had (above 4 GiB with the scratch): use plain arrays then.
   */
  static create(floats: number): WeightPool | null {
    const weightValues = Math.ceil(floats / 4) * 2; // float64 values: each array starts on 16 bytes
    const arena = SimdArena.create<GemmF32Kernels>([weightValues, GEMM_A_FLOATS / 2, GEMM_C_FLOATS / 2], GEMM_MODULES, { threads: true });
    if (!arena) return null;
    const [w, a, c] = arena.arrays.map((array) => new Float32Array(array.buffer, array.byteOffset, array.length * 2));
    const place: ProductPlace = { kernels: arena.kernels, a, c, threads: arena.threadCount, run: arena.threads ? (name, args) => arena.run(name, args) : undefined };
    registerResidentPlace(w.buffer, place);
    return new WeightPool(arena, w);
  }

  /**
   * Threads its products split among, the caller's included: with `setSimdThreads` above 1 (Node's
   * default: up to 4), a pool's memory is shared with worker threads, and a product of several rows
   * with a pooled B (a prefill's) gives each thread whole 4-row blocks of B: the same values on any
   * number of threads. One-row products split only from 3·2^20 multiply-adds (smaller ones, bound
   * by reading B, stay on the calling thread). 1 where threads are unavailable.
   */
  get threads(): number {
    return this.arena.threadCount;
  }

  /**
   * Lets the worker threads go (they keep the pool's memory alive while they serve it); the next
   * product takes them back. Call it when done with the pool's matrices (a model's `dispose`).
   */
  release(): void {
    this.arena.release();
  }

  /** Floats the pool holds for weights, and those still free. */
  get capacity(): number {
    return this.weights.length;
  }

  get free(): number {
    return this.weights.length - this.used;
  }

  /**
   * Floats of a pool's capacity that `length` f32 values take (`allocate`), or `length` f16/bf16
   * values (`allocateHalf`, two to a float): each array starts on 16 bytes. For sizing a pool.
   */
  static floatsFor(length: number, half = false): number {
    return half ? Math.ceil(length / 8) * 4 : Math.ceil(length / 4) * 4;
  }

  /** The next `length` floats (zeroed) as a Float32Array; throws a RangeError when the pool is full. */
  allocate(length: number): Float32Array {
    const start = this.take(length, WeightPool.floatsFor(length), 'floats');
    return this.weights.subarray(start, start + length);
  }

  /**
   * Room for `length` f16 or bf16 values (zeroed bit patterns, two to a float of the pool's
   * capacity) as a Uint16Array: wrap it in a CPU tensor of that dtype (`tensorFromHost`) and use it
   * as B of `matmul` beside f32 activations. Throws a RangeError when the pool is full.
   */
  allocateHalf(length: number): Uint16Array {
    const start = this.take(length, WeightPool.floatsFor(length, true), 'half-precision values');
    return new Uint16Array(this.weights.buffer, this.weights.byteOffset + 4 * start, length);
  }

  /** Reserves `floats` of the pool (`floatsFor`); returns where they start. */
  private take(length: number, floats: number, what: string): number {
    if (floats > this.free) throw new RangeError(`WeightPool: ${length} ${what} do not fit (${this.free} of ${this.capacity} floats free)`);
    const start = this.used;
    this.used += floats;
    return start;
  }
}
